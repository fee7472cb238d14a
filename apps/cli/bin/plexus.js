#!/usr/bin/env node
// `npx plexus`: the built CLI (npm run build).
require("../../../dist/apps/cli/main.js");
