#!/bin/sh
# The image's entry point: the first argument names the app (control-plane, worker, supervisor or
# cli), the others go to it. Anything else runs as a command (e.g. `sh`).
set -eu
APP_DIR=${PLEXUS_APP_DIR:-/app}

# Docker and compose secrets arrive as files; the apps read the key from the environment.
if [ -z "${PLEXUS_SECRETS_KEY:-}" ] && [ -n "${PLEXUS_SECRETS_KEY_FILE:-}" ]; then
  if [ ! -s "$PLEXUS_SECRETS_KEY_FILE" ]; then
    echo "plexus: PLEXUS_SECRETS_KEY_FILE names $PLEXUS_SECRETS_KEY_FILE, which is missing or empty" >&2
    exit 2
  fi
  PLEXUS_SECRETS_KEY=$(cat "$PLEXUS_SECRETS_KEY_FILE")
  export PLEXUS_SECRETS_KEY
fi

app=${1:-control-plane}
case "$app" in
  control-plane | worker | supervisor | cli)
    [ $# -gt 0 ] && shift
    # exec: node becomes PID 1 and receives SIGTERM itself (every app handles it).
    exec node "$APP_DIR/dist/apps/$app/main.js" "$@"
    ;;
  *) exec "$@" ;;
esac
