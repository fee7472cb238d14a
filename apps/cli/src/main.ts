#!/usr/bin/env node
import { runCli } from './cli.program';

runCli(process.argv).then((code) => {
  process.exitCode = code;
});
