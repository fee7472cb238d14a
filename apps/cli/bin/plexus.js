#!/usr/bin/env node
// `npx plexus`: the built CLI (npm run build).
/* global require */
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('../../../dist/apps/cli/main.js');
