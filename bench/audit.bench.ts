/**
 * bench:audit — the audit query (GET /events) over 1,010,000 events: p50/p95 per filter shape,
 * a page deep in a paginated walk, an ndjson export, and time travel (GET /nodes/:id?version=N)
 * across a 10,000-event stream. Seeds a dedicated database once (bench/audit-seed.ts) and reuses
 * it on reruns, then starts the built control plane as its own process on it and measures through
 * the HTTP API, one request at a time.
 *
 * Last line: auditP50Ms / auditP95Ms are the p50 / p95 of the worst shape (the slowest one by
 * that percentile), so a single number covers every shape.
 */
import { ALL_EVENT_TYPES, NODE_EVENT_TYPES } from '@plexus/domain';
import { Database } from '@plexus/event-store';
import { SHARED_POSTGRES } from '../test/support/databases';
import { freePort } from '../test/support/ports';
import { spawnControlPlane } from '../test/support/processes';
import {
  ACTORS,
  DB_MODULES,
  DEEP_EVENTS,
  DEEP_NODE,
  DAYS,
  ENDPOINT_MODULES,
  ensureAuditSeed,
  nodeName,
  NODES,
} from './audit-seed';
import { BENCH_TOKEN, jsonClient, percentile, progress, round } from './support';

const DATABASE_NAME = process.env.BENCH_AUDIT_DATABASE ?? 'plexus_bench_audit';
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);

/** A small seeded PRNG (mulberry32), so that every run asks the same questions. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main() {
  const url = `${SHARED_POSTGRES}/${DATABASE_NAME}`;
  const db = await Database.open(url, { poolSize: 2 });
  progress(`database ${DATABASE_NAME}: migrating`);
  let began = performance.now();
  await db.migrate();
  progress(`migrated in ${round((performance.now() - began) / 1000, 1)} s`);
  began = performance.now();
  const seed = await ensureAuditSeed(db);
  const seedSeconds = round((performance.now() - began) / 1000, 1);
  progress(seed.reused ? `reusing ${seed.events} seeded events` : `seeded in ${seedSeconds} s`);
  await db.query('ANALYZE events'); // statistics of the expression indexes, however they came

  const random = rng(42);
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)];
  const sample = async (sql: string) =>
    (await db.query<{ v: string }>(sql, [QUERIES])).map((r) => r.v);
  const correlationIds = await sample(
    `SELECT metadata->>'correlationId' AS v FROM events TABLESAMPLE SYSTEM (1) ORDER BY random() LIMIT $1`,
  );
  const processActors = await sample(
    `SELECT DISTINCT metadata->>'actor' AS v FROM events TABLESAMPLE SYSTEM (1)
     WHERE metadata->>'actor' LIKE 'process:%' LIMIT $1`,
  );
  const [range] = await db.query<{ min: Date; max: Date }>(
    'SELECT min(recorded_at) AS min, max(recorded_at) AS max FROM events',
  );
  await db.close();

  const port = await freePort();
  progress(`starting the built control plane on :${port}`);
  const cp = await spawnControlPlane({
    DATABASE_URL: url,
    PORT: port,
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
  });
  const request = jsonClient(cp.url, { authorization: `Bearer ${BENCH_TOKEN}` });
  const call = async (path: string) => {
    const t0 = performance.now();
    const res = await request('GET', path);
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET ${path} -> ${res.status}: ${res.body}`);
    return { ms, body: res.body };
  };
  const events = (params: Record<string, string | string[]>) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params))
      for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
    return `/events?${search}`;
  };

  try {
    const span = range.max.getTime() - range.min.getTime();
    const window = () => {
      // 1 hour to 30 days, log-uniform, anywhere in the ~90 days
      const length = 3_600_000 * Math.exp(random() * Math.log(24 * 30));
      const from = range.min.getTime() + random() * Math.max(0, span - length);
      return { from: new Date(from).toISOString(), to: new Date(from + length).toISOString() };
    };
    const node = () => (random() < 0.02 ? DEEP_NODE : nodeName(1 + Math.floor(random() * NODES)));
    const modules = [...ENDPOINT_MODULES, ...DB_MODULES, 'local_security', 'web', 'api'];
    const actor = () =>
      random() < 0.15 ? pick(processActors) : random() < 0.05 ? 'failure-detector' : pick(ACTORS);
    const types = (n: number) => {
      const chosen = new Set<string>();
      while (chosen.size < n) chosen.add(pick(ALL_EVENT_TYPES));
      return [...chosen];
    };

    const shapes: Record<string, (i: number) => string> = {
      none: () => events({}),
      nodeId: () => events({ nodeId: node() }),
      moduleId: () => events({ moduleId: pick(modules) }),
      type: () => events({ type: pick(ALL_EVENT_TYPES) }),
      severalTypes: (i) => events({ type: types(2 + (i % 2)) }),
      actor: () => events({ actor: actor() }),
      correlationId: (i) => events({ correlationId: correlationIds[i % correlationIds.length] }),
      timeRange: () => events(window()),
      nodeIdType: () => events({ nodeId: node(), type: pick(NODE_EVENT_TYPES) }),
      actorTimeRange: () => events({ actor: actor(), ...window() }),
    };

    const p50MsByShape: Record<string, number> = {};
    const p95MsByShape: Record<string, number> = {};
    const record = (shape: string, latencies: number[]) => {
      latencies.sort((a, b) => a - b);
      p50MsByShape[shape] = round(percentile(latencies, 50));
      p95MsByShape[shape] = round(percentile(latencies, 95));
      progress(`${shape}: p50 ${p50MsByShape[shape]} ms, p95 ${p95MsByShape[shape]} ms`);
    };

    progress('warm-up: 20 queries per shape');
    for (const build of Object.values(shapes)) for (let i = 0; i < 20; i++) await call(build(i));

    for (const [shape, build] of Object.entries(shapes)) {
      const latencies: number[] = [];
      for (let i = 0; i < QUERIES; i++) latencies.push((await call(build(i))).ms);
      record(shape, latencies);
    }

    // Deep pages: hop 5,000-20,000 events into a listing with limit=1000 (not measured), then
    // measure the next pages of 100, each continuing from the previous one's `next`.
    const walks: Record<string, string | string[]>[] = [
      {},
      { actor: 'admin' },
      { type: 'ModuleConfigChanged' },
      { moduleId: 'local_security' },
      { type: ['ModuleStopped', 'ModuleStarted'] },
    ];
    const deep: number[] = [];
    for (let w = 0; deep.length < QUERIES; w++) {
      const filter = walks[w % walks.length];
      let after: string | null = null;
      for (let hop = 0, hops = 5 + Math.floor(random() * 16); hop < hops; hop++) {
        const { body } = await call(
          events({ ...filter, limit: '1000', ...(after ? { after } : {}) }),
        );
        after = JSON.parse(body).next;
      }
      for (let page = 0; page < 10 && after && deep.length < QUERIES; page++) {
        const { ms, body } = await call(events({ ...filter, after }));
        deep.push(ms);
        after = JSON.parse(body).next;
      }
    }
    record('deepPage', deep);

    // An export, as a SIEM tool would pull it: every ModuleRemoved event.
    const exportStarted = performance.now();
    const exported = await call(events({ type: 'ModuleRemoved', format: 'ndjson' }));
    const exportedEvents = exported.body.split('\n').filter(Boolean).length;
    const exportEventsPerSec = exportedEvents / ((performance.now() - exportStarted) / 1000);
    progress(`ndjson export: ${exportedEvents} events at ${round(exportEventsPerSec, 0)}/s`);

    progress(`time travel: ${QUERIES} versions across ${DEEP_NODE}'s ${DEEP_EVENTS} events`);
    for (let i = 0; i < 20; i++)
      await call(`/nodes/${DEEP_NODE}?version=${1 + Math.floor(random() * DEEP_EVENTS)}`);
    const travel: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const version = 1 + Math.floor(random() * DEEP_EVENTS);
      const { ms, body } = await call(`/nodes/${DEEP_NODE}?version=${version}`);
      if (JSON.parse(body).version !== version) throw new Error(`version ${version}: ${body}`);
      travel.push(ms);
    }
    travel.sort((a, b) => a - b);

    const worst = (byShape: Record<string, number>) =>
      Object.entries(byShape).reduce((a, b) => (b[1] > a[1] ? b : a));
    const [worstShape, auditP95Ms] = worst(p95MsByShape);
    const result = {
      auditP50Ms: worst(p50MsByShape)[1],
      auditP95Ms,
      auditWorstShape: worstShape,
      timeTravelP50Ms: round(percentile(travel, 50)),
      timeTravelP95Ms: round(percentile(travel, 95)),
      events: seed.events,
      p50MsByShape,
      p95MsByShape,
      queriesPerShape: QUERIES,
      pageSize: 100,
      exportEventsPerSec: round(exportEventsPerSec, 0),
      seedReused: seed.reused,
      seedSeconds,
      days: DAYS,
    };
    console.log(JSON.stringify(result));
  } finally {
    await cp.kill('SIGTERM');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
