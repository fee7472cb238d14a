#!/usr/bin/env bash
# npm test: install when needed, build the apps (end-to-end tests run the built processes),
# make sure Postgres and NATS answer, then run every tier: unit, integration, end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
bash scripts/ensure-services.sh

results=$(mktemp -d)
status=0
# Unit tests run in parallel. Integration and end-to-end suites share Postgres, NATS and the
# control plane's queue group, so they run one file at a time.
npx jest --selectProjects unit --json --outputFile="$results/unit.json" "$@" || status=$?
# --forceExit: in 2 of 4 full runs this session Jest stayed up after writing every result (all
# passed), with no socket, child or timer of the tests' left to explain it; it must not hold CI.
npx jest --selectProjects int e2e --runInBand --forceExit --json --outputFile="$results/int.json" "$@" || status=$?

# One closing line over both runs.
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
  }
  console.log(`tests: ${passed} passed, ${failed} failed`);
' "$results/unit.json" "$results/int.json"
rm -rf "$results"
exit $status
