#!/usr/bin/env bash
# Starts the local Postgres and NATS (with JetStream) when nothing answers on their ports,
# using the machine's installed servers. Used by .ci/run and the quick start.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! answers 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting Postgres" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  else
    echo "no Postgres answers on 127.0.0.1:5432 and none is installed: run 'docker compose up -d'" >&2
    exit 1
  fi
fi

if ! answers 4222; then
  if [ -x /usr/sbin/nats-server ]; then
    echo "starting NATS" >&2
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  else
    echo "no NATS answers on 127.0.0.1:4222 and none is installed: run 'docker compose up -d'" >&2
    exit 1
  fi
fi

for _ in $(seq 1 100); do
  if answers 5432 && answers 4222 && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then exit 0; fi
  sleep 0.1
done
echo "Postgres or NATS did not come up within 10 s" >&2
exit 1
