// @ts-check
/**
 * The peer baseline of bench:propagation: the least a process needs to follow one key of a
 * JetStream KV bucket and serve its latest value, with no Plexus code at all. Plain JavaScript so
 * that each of the fleet's processes is a bare `node` (no TypeScript compiler loaded), as lean as
 * a hand-written NATS KV watcher would be.
 *
 * Environment: NATS_URL, BUCKET, KEY, PORT. The key's value is JSON with a `message`;
 * GET / answers `{"message": ...}` (as the http-endpoint module does), 503 before the first value.
 * With REPORT_SUBJECT set it also reports each value it took, as a Plexus worker reports an
 * applied document: `{port, message, hrtimeNs}` on core NATS REPORT_DELAY_MS after taking it,
 * with the hrtime at which it took it (so that the fleet can be timed by its own reports too).
 */
'use strict';
/* global require, process, console, setTimeout */
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, run by a bare node */
const http = require('node:http');
const { connect } = require('nats');

const { NATS_URL, BUCKET, KEY, PORT, REPORT_SUBJECT } = process.env;
/** As the worker's (apps/worker/src/reporting/status.reporter.ts). */
const REPORT_DELAY_MS = 30;
let current; // the latest value's message

const server = http.createServer((req, res) => {
  const ready = current !== undefined;
  res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify(ready ? { message: current } : { message: null }));
});
server.keepAliveTimeout = 5000; // as the http-endpoint module's listener

async function main() {
  const nc = await connect({ servers: NATS_URL, name: `bench-nats-kv-watcher-${PORT}` });
  const kv = await nc.jetstream().views.kv(BUCKET);
  const watch = await kv.watch({ key: KEY });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(PORT), '127.0.0.1', () => resolve(undefined));
  });
  const stop = async () => {
    watch.stop();
    server.close();
    server.closeAllConnections();
    await nc.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  for await (const entry of watch) {
    if (entry.operation !== 'PUT') continue;
    current = entry.json().message;
    if (REPORT_SUBJECT) {
      const report = JSON.stringify({
        port: PORT,
        message: current,
        hrtimeNs: process.hrtime.bigint().toString(),
      });
      setTimeout(() => nc.publish(REPORT_SUBJECT, report), REPORT_DELAY_MS);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
