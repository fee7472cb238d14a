#!/usr/bin/env bash
# npm run cluster: a local Plexus cluster — the control plane plus two processes of the sample
# node (the second with a port offset). Installs and builds what is missing first; uses Postgres
# and NATS at their default addresses, starting local ones (in .plexus/) when nothing answers.
# Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE="$ROOT/.plexus"
mkdir -p "$STATE"

export PLEXUS_ADMIN_TOKEN="${PLEXUS_ADMIN_TOKEN:-plexus-local-admin-token}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/plexus}"
export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
# Webhooks of a local cluster usually post to something on this host or the LAN, which the
# control plane refuses by default (public addresses only): allow loopback and private targets
# besides public ones. Set WEBHOOK_ALLOWED_HOSTS yourself to change that.
export WEBHOOK_ALLOWED_HOSTS="${WEBHOOK_ALLOWED_HOSTS:-external,loopback,private}"

# Secrets are stored and published encrypted with this key (32 random bytes, base64). A local one
# is made once and kept in .plexus/secrets.key, readable by this user only; set
# PLEXUS_SECRETS_KEY to use another.
if [ -z "${PLEXUS_SECRETS_KEY:-}" ]; then
  if [ ! -s "$STATE/secrets.key" ]; then
    (umask 077; node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64'))" >"$STATE/secrets.key")
    printf '\033[1m[plexus]\033[0m %s\n' "made a secrets key in .plexus/secrets.key (keep it: the stored secrets need it)" >&2
  fi
  PLEXUS_SECRETS_KEY=$(cat "$STATE/secrets.key")
fi
export PLEXUS_SECRETS_KEY
PORT="${PORT:-9000}"
NODE_ID=sample_node
PROPERTIES=examples/sample.properties

say() { printf '\033[1m[plexus]\033[0m %s\n' "$*" >&2; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# 1. Dependencies and build
if [ ! -d node_modules ]; then say "installing dependencies (npm ci)"; npm ci --no-audit --no-fund; fi
# dist/.built marks the last build: webpack leaves an unchanged bundle's file time alone, so the
# bundles themselves cannot say whether a source changed since.
newest_source=$(find apps libs \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.html' \) -not -path '*/dist/*' -newer dist/.built 2>/dev/null | head -1 || true)
if [ ! -f dist/.built ] || [ ! -f dist/apps/control-plane/main.js ] || [ ! -f dist/apps/worker/main.js ] || [ ! -f dist/apps/console/index.html ] || [ -n "$newest_source" ]; then
  say "building"; npm run build --silent && touch dist/.built
fi

# 2. Postgres and NATS: use what answers, else start our own from the installed binaries
STARTED_PG=""; STARTED_NATS=""
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! answers 5432; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$PG_BIN" ] && command -v pg_ctl >/dev/null; then PG_BIN=$(dirname "$(command -v pg_ctl)"); fi
  if [ -z "$PG_BIN" ]; then say "nothing answers on 127.0.0.1:5432 and no Postgres is installed: run 'docker compose up -d' first"; exit 1; fi
  if [ ! -f "$STATE/pg/PG_VERSION" ]; then
    say "creating a Postgres data folder in .plexus/pg"
    mkdir -p "$STATE/pg"; [ "$(id -u)" = 0 ] && chown postgres "$STATE/pg" "$STATE"
    as_postgres "$PG_BIN/initdb" -D "$STATE/pg" -A trust -U postgres >/dev/null
  fi
  say "starting Postgres on 5432 (.plexus/pg)"
  as_postgres "$PG_BIN/pg_ctl" -D "$STATE/pg" -w -l "$STATE/pg/server.log" -o "-p 5432 -c listen_addresses=127.0.0.1 -k $STATE/pg" start >/dev/null
  STARTED_PG=1
fi
if ! answers 4222; then
  NATS_BIN=$(command -v nats-server || ls /usr/sbin/nats-server 2>/dev/null || true)
  if [ -z "$NATS_BIN" ]; then say "nothing answers on 127.0.0.1:4222 and nats-server is not installed: run 'docker compose up -d' first"; exit 1; fi
  say "starting NATS with JetStream on 4222 (.plexus/nats)"
  "$NATS_BIN" -a 127.0.0.1 -p 4222 -js -sd "$STATE/nats" -l "$STATE/nats.log" &
  STARTED_NATS=$!
  for _ in $(seq 1 50); do answers 4222 && break; sleep 0.1; done
fi

# 3. The cluster
PIDS=()
stop_all() {
  trap - INT TERM EXIT
  say "stopping"
  for pid in "${PIDS[@]:1}"; do kill -TERM "$pid" 2>/dev/null || true; done   # workers first: they announce that they left
  for pid in "${PIDS[@]:1}"; do wait "$pid" 2>/dev/null || true; done
  [ ${#PIDS[@]} -gt 0 ] && { kill -TERM "${PIDS[0]}" 2>/dev/null || true; wait "${PIDS[0]}" 2>/dev/null || true; }
  [ -n "$STARTED_NATS" ] && { kill -TERM "$STARTED_NATS" 2>/dev/null || true; wait "$STARTED_NATS" 2>/dev/null || true; }
  [ -n "$STARTED_PG" ] && as_postgres "$PG_BIN/pg_ctl" -D "$STATE/pg" -m fast stop >/dev/null 2>&1 || true
  say "stopped"
}
trap stop_all INT TERM EXIT

LOGS="$STATE/logs"; mkdir -p "$LOGS"
PORT=$PORT node dist/apps/control-plane/main.js >"$LOGS/control-plane.log" 2>&1 &
PIDS+=($!)
say "control plane starting (log: .plexus/logs/control-plane.log)"
for _ in $(seq 1 150); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { say "the control plane exited:"; tail -20 "$LOGS/control-plane.log" >&2; exit 1; }
  sleep 0.2
done

node dist/apps/worker/main.js --node-id "$NODE_ID" --properties "$PROPERTIES" >"$LOGS/worker-1.log" 2>&1 &
PIDS+=($!)
node dist/apps/worker/main.js --node-id "$NODE_ID" --properties "$PROPERTIES" --port-offset 100 >"$LOGS/worker-2.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:8000/ >/dev/null 2>&1 && curl -sf http://127.0.0.1:8100/ >/dev/null 2>&1 && break; sleep 0.2; done

cat >&2 <<INFO

  Plexus is running.
    admin API     http://127.0.0.1:$PORT   (token: $PLEXUS_ADMIN_TOKEN; OpenAPI at /docs)
    web console   http://127.0.0.1:$PORT/console   (log in with the token above)
    webhooks      may target: $WEBHOOK_ALLOWED_HOSTS (WEBHOOK_ALLOWED_HOSTS)
    sample_node   process 1 http://127.0.0.1:8000/   process 2 http://127.0.0.1:8100/
    logs          .plexus/logs/

  Try:
    curl -s http://127.0.0.1:8000/
    curl -s -X PATCH -H "Authorization: Bearer $PLEXUS_ADMIN_TOKEN" -H 'Content-Type: application/json' \\
         -d '{"message":"changed live"}' http://127.0.0.1:$PORT/nodes/$NODE_ID/modules/sample_endpoint/config
    curl -s http://127.0.0.1:8100/          # same message, same process, no restart
    curl -s -H "Authorization: Bearer $PLEXUS_ADMIN_TOKEN" http://127.0.0.1:$PORT/processes

  Ctrl-C stops everything.
INFO
wait "${PIDS[0]}"
