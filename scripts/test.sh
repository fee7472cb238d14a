#!/usr/bin/env bash
# npm test: install when needed, build the apps (end-to-end tests run the built processes),
# make sure Postgres and NATS answer, then run every tier: unit, integration, end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
bash scripts/ensure-services.sh
# Integration and end-to-end suites share Postgres, NATS and the control plane's queue group, so
# they run one file at a time; unit tests run in parallel.
npx jest --selectProjects unit "$@"
npx jest --selectProjects int e2e --runInBand "$@"
