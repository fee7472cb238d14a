// The floor of bench:worker-cost: a bare nats.js process that does what a worker must do per
// change and nothing else: it watches one key of a KV bucket (ordered consumer), decodes each
// new value as JSON and publishes a small report on core NATS 30 ms later (as the worker's
// applied reports go out, REPORT_DELAY_MS). The bench runs it beside the worker on the same
// key, so both see the same changes under the same load; its CPU per change is what any worker
// built on nats.js spends on this host. Plain JavaScript, no ts-node: nothing but nats is loaded.
//
// Usage: node bench/kv-watch-floor.js NATS_URL BUCKET KEY SUBJECT; prints "ready" once watching.
const { connect } = require('nats');

const [servers, bucket, key, subject] = process.argv.slice(2);
const REPORT_DELAY_MS = 30;

(async () => {
  const nc = await connect({ servers, name: 'bench-kv-watch-floor' });
  const kv = await nc.jetstream().views.kv(bucket);
  const entries = await kv.watch({ key });
  let pending = [];
  let timer = null;
  const send = () => {
    timer = null;
    for (const report of pending.splice(0)) nc.publish(subject, JSON.stringify(report));
  };
  process.stdout.write('ready\n');
  for await (const entry of entries) {
    if (entry.operation !== 'PUT') continue;
    const doc = JSON.parse(entry.string());
    pending.push({
      nodeId: doc.nodeId,
      version: doc.version,
      ok: true,
      hrtimeNs: process.hrtime.bigint().toString(),
      modules: Object.fromEntries(
        doc.modules.map((m) => [m.moduleId, { state: 'running', version: doc.version }]),
      ),
    });
    timer ??= setTimeout(send, REPORT_DELAY_MS);
  }
})().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
