/**
 * bench:write — admin API write throughput and latency at concurrency 1 and 16, spread over many
 * nodes (writes to one node serialise by design), and raw event-store appends/s.
 * Starts the built control plane as its own process against a fresh database.
 *
 * The peer baselines, in the same run and once Plexus is idle: a one-member etcd of the bench's
 * own (bench/peers; etcdPutsPerSec null when /usr/bin/etcd is missing) and a bare NATS KV bucket
 * get as many concurrent writers for as long, on keys spread as the Plexus writes are over nodes,
 * with values the size of a Plexus config-change event. writeRatioToEtcd = apiWritesPerSecC16 ÷
 * etcdPutsPerSec.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { Client } from 'pg';
import { appendToStream, Database } from '@plexus/event-store';
import { createTestDatabase } from '../test/support/databases';
import { freePort } from '../test/support/ports';
import { spawnControlPlane } from '../test/support/processes';
import { etcdPuts, natsKvPuts, PeerWriteLoad } from './peers';
import {
  BENCH_NATS,
  BENCH_TOKEN,
  closedLoop,
  fixedCount,
  percentile,
  processCpuMs,
  progress,
  round,
  socketJsonClient,
} from './support';

const NODES = 200;
const CONCURRENCY = 16;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CPU_WRITES = Number(process.env.BENCH_CPU_WRITES ?? 5000);

async function main() {
  const db = await createTestDatabase('plexus_bench_write');
  const port = await freePort();
  progress(`starting the control plane on :${port} with database ${db.name}`);
  const cp = await spawnControlPlane({
    DATABASE_URL: db.url,
    PORT: port,
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
  });
  // The lean client: on two cores, what the load generator spends is taken from the control plane.
  const request = socketJsonClient(cp.url, { authorization: `Bearer ${BENCH_TOKEN}` });
  const call = async (method: string, path: string, body: unknown) => {
    const res = await request(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status}: ${res.body}`);
  };
  try {
    progress(`seeding ${NODES} nodes with one http-endpoint each`);
    for (let n = 0; n < NODES; n++) {
      await call('PUT', `/nodes/bench-${n}`, { properties: {} });
      await call('PUT', `/nodes/bench-${n}/modules/web`, {
        type: 'http-endpoint',
        config: { port: '8000', message: 'start' },
      });
    }
    const write = (worker: number, i: number) =>
      call('PATCH', `/nodes/bench-${(worker * 7919 + i) % NODES}/modules/web/config`, {
        message: `w${worker}-${i}`,
      });

    progress('warm-up');
    await closedLoop(16, 2, write);
    progress(`concurrency 1 for ${SECONDS}s`);
    const c1 = await closedLoop(1, SECONDS, write);
    progress(`concurrency ${CONCURRENCY} for ${SECONDS}s`);
    const c16 = await closedLoop(CONCURRENCY, SECONDS, write);

    // The control plane's CPU time per write (utime + stime of its process, relay included):
    // unlike writes/s it hardly moves when other work shares the machine.
    // Postgres's share likewise: the CPU time of the server processes serving this database.
    progress(`control-plane and Postgres CPU time over ${CPU_WRITES} writes at concurrency 16`);
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const postgresCpuMs = async () => {
      const { rows } = await pg.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      const byPid = new Map<number, number>();
      for (const { pid } of rows) {
        try {
          byPid.set(pid, processCpuMs(pid));
        } catch {
          // the connection closed meanwhile
        }
      }
      return byPid;
    };
    // NATS (the relay's publishes) and this load generator share the machine too: their share.
    const natsPid = natsServerPid();
    const natsBefore = natsPid ? processCpuMs(natsPid) : 0;
    const clientBefore = process.cpuUsage();
    const cpuBefore = processCpuMs(cp.child.pid!);
    const postgresBefore = await postgresCpuMs();
    await fixedCount(16, CPU_WRITES, (worker, i) => write(worker, i));
    await new Promise((r) => setTimeout(r, 300)); // the relay publishes the last writes
    const cpuMsPerWrite = (processCpuMs(cp.child.pid!) - cpuBefore) / CPU_WRITES;
    const natsCpuMsPerWrite = natsPid ? (processCpuMs(natsPid) - natsBefore) / CPU_WRITES : null;
    const client = process.cpuUsage(clientBefore);
    const clientCpuMsPerWrite = (client.user + client.system) / 1000 / CPU_WRITES;
    let postgresUsed = 0; // a connection opened during the run counts whole
    for (const [pid, ms] of await postgresCpuMs())
      postgresUsed += ms - (postgresBefore.get(pid) ?? 0);
    const postgresCpuMsPerWrite = postgresUsed / CPU_WRITES;
    await pg.end();

    // Relay pickup: from the write's HTTP answer to its event arriving at a NATS subscriber of
    // the events stream, one write at a time (an idle relay must wake at once, not on a poll).
    progress('relay pickup, 300 sequential writes');
    const nc = await connect({ ...BENCH_NATS });
    const arrived = new Map<string, bigint>();
    nc.subscribe('plexus.events.>', {
      callback: (_err, msg) => {
        const correlationId = (msg.json() as { metadata: { correlationId: string } }).metadata
          .correlationId;
        arrived.set(correlationId, process.hrtime.bigint());
      },
    });
    const pickups: number[] = [];
    for (let i = 0; i < 300; i++) {
      const correlationId = `pickup-${i}`;
      const res = await request(
        'PATCH',
        `/nodes/bench-${i % NODES}/modules/web/config`,
        { message: `p${i}` },
        {
          'x-correlation-id': correlationId,
        },
      );
      const acked = process.hrtime.bigint();
      if (res.status !== 200) throw new Error(`pickup write -> ${res.status}`);
      const deadline = Date.now() + 2000;
      while (!arrived.has(correlationId) && Date.now() < deadline)
        await new Promise((r) => setImmediate(r));
      const at = arrived.get(correlationId);
      if (at !== undefined) pickups.push(Number(at - acked) / 1e6);
    }
    await nc.close();
    pickups.sort((a, b) => a - b);

    progress(`raw appendToStream, 16 concurrent, for ${SECONDS}s`);
    const store = await Database.open(db.url, { poolSize: 16 });
    const versions = new Map<string, number>();
    const appends = await closedLoop(16, SECONDS, async (worker) => {
      const stream = `raw-${worker}`;
      const version = versions.get(stream) ?? 0;
      await appendToStream(store, stream, stream, version, [
        {
          eventId: randomUUID(),
          type: 'NodePropertiesChanged',
          data: { changes: [] },
          metadata: { actor: 'bench', correlationId: 'bench' },
        },
      ]);
      versions.set(stream, version + 1);
    });

    // The machine's own yardstick: node-postgres single-row inserts, 16 concurrent, no Plexus code.
    progress(`node-postgres single-row inserts, 16 concurrent, for ${SECONDS}s`);
    await store.query('CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, v text)');
    const baseline = await closedLoop(16, SECONDS, async () => {
      await store.query('INSERT INTO bench_baseline (v) VALUES ($1)', ['x']);
    });
    // What one config change weighs in the event store: the peers get values of that size.
    const [{ bytes }] = await store.query<{ bytes: number | null }>(
      `SELECT avg(octet_length(payload::text) + octet_length(metadata::text))::int AS bytes
         FROM events WHERE type = 'ModuleConfigChanged'`,
    );
    await store.close();

    const load: PeerWriteLoad = {
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      keyOf: (worker, i) => `nodes/bench-${(worker * 7919 + i) % NODES}/modules/web`,
      valueBytes: bytes ?? 300,
    };
    const etcd = await etcdPuts(load);
    const peerNats = await connect({ servers: BENCH_NATS_URL });
    const natsKv = await natsKvPuts(peerNats, load);
    await peerNats.close();

    const result = {
      apiWritesPerSecC1: round(c1.perSec, 0),
      apiP50MsC1: round(percentile(c1.latencies, 50)),
      apiP99MsC1: round(percentile(c1.latencies, 99)),
      apiWritesPerSecC16: round(c16.perSec, 0),
      apiP50MsC16: round(percentile(c16.latencies, 50)),
      apiP99MsC16: round(percentile(c16.latencies, 99)),
      etcdPutsPerSec: etcd ? round(etcd.perSec, 0) : null,
      etcdP50Ms: etcd ? round(percentile(etcd.latencies, 50)) : null,
      etcdP99Ms: etcd ? round(percentile(etcd.latencies, 99)) : null,
      writeRatioToEtcd: etcd ? round(c16.perSec / etcd.perSec) : null,
      natsKvPutsPerSec: round(natsKv.perSec, 0),
      natsKvP99Ms: round(percentile(natsKv.latencies, 99)),
      apiErrors: c1.errors + c16.errors,
      // what the first failed write answered, so that an error count can be explained
      ...(c1.firstError || c16.firstError
        ? { apiFirstError: c1.firstError ?? c16.firstError }
        : {}),
      controlPlaneCpuMsPerWrite: round(cpuMsPerWrite, 3),
      postgresCpuMsPerWrite: round(postgresCpuMsPerWrite, 3),
      natsCpuMsPerWrite: natsCpuMsPerWrite === null ? null : round(natsCpuMsPerWrite, 3),
      loadGeneratorCpuMsPerWrite: round(clientCpuMsPerWrite, 3),
      appendsPerSec: round(appends.perSec, 0),
      pgInsertsPerSecC16: round(baseline.perSec, 0),
      // ack -> event on NATS; negative when the event arrived before the HTTP answer did
      relayPickupP50Ms: round(percentile(pickups, 50)),
      relayPickupP99Ms: round(percentile(pickups, 99)),
      // the peers' own CPU, comparable with controlPlane + postgres CPU ms per write
      etcdCpuMsPerPut: etcd ? round(etcd.serverCpuMsPerPut, 3) : null,
      etcdLoadGeneratorCpuMsPerPut: etcd ? round(etcd.loadGeneratorCpuMsPerPut, 3) : null,
      peerErrors: (etcd?.errors ?? 0) + natsKv.errors,
      peerValueBytes: load.valueBytes,
      nodes: NODES,
      secondsPerRun: SECONDS,
    };
    console.log(JSON.stringify(result));
  } finally {
    await cp.kill('SIGTERM');
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/** The nats-server on BENCH_NATS_URL's port (started with `-p <port>`), if this user can see it. */
function natsServerPid(): number | null {
  const port = new URL(BENCH_NATS_URL).port || '4222';
  try {
    const out = execFileSync('pgrep', ['-f', `nats-server.*-p ${port}( |$)`], {
      encoding: 'utf8',
    });
    const pid = Number(out.trim().split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
