/**
 * bench:write — admin API write throughput and latency at concurrency 1 and 16, spread over many
 * nodes (writes to one node serialise by design), and raw event-store appends/s.
 * Starts the built control plane as its own process against a fresh database.
 *
 * The peer baselines, in the same run: a one-member etcd of the bench's own (bench/peers;
 * etcdPutsPerSec null when /usr/bin/etcd is missing) and a bare NATS KV bucket get as many
 * concurrent writers for as long, on keys spread as the Plexus writes are over nodes, with values
 * the size of a Plexus config-change event. etcd's rounds alternate with Plexus's concurrency-16
 * rounds (BENCH_ROUNDS, 4: Plexus, etcd, etcd, Plexus, ...), so that both see the same machine.
 * writeRatioToEtcd = apiWritesPerSecC16 ÷ etcdPutsPerSec, over all rounds; by round beside it.
 *
 * `--replicas N` (or BENCH_REPLICAS): N control-plane replicas on that database, each load
 * connection kept to one of them (see bench/replicas.ts); per-replica figures are added.
 * `--kill-leader` (or BENCH_KILL_LEADER=1; 3 replicas unless told otherwise): instead, one run of
 * 16 writers during which the relay leader is killed (-9), printing the blip in successful writes,
 * the failed writes, how long the relay took to resume on another replica, and whether the events
 * stream holds every event of the database once, in order (see killLeaderRun).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { Client } from 'pg';
import { appendToStream, Database } from '@plexus/event-store';
import { sleep } from '@plexus/common';
import { createTestDatabase } from '../test/support/databases';
import { auditEventStream } from '../test/support/event-stream';
import { waitFor } from '../test/support/ports';
import { natsKvPuts, openEtcdPeer, PeerRun, PeerWriteLoad } from './peers';
import {
  BENCH_NATS,
  BENCH_NATS_URL,
  closedLoop,
  dropBenchDatabase,
  fixedCount,
  percentile,
  processCpuMs,
  progress,
  round,
} from './support';
import { relayLeader, Replica, ReplicaRouter, startReplicas } from './replicas';

const NODES = 200;
const CONCURRENCY = 16;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CPU_WRITES = Number(process.env.BENCH_CPU_WRITES ?? 5000);
/** Concurrency 16 runs in this many rounds, alternating with etcd's; BENCH_SECONDS in all. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);

/** `--name value`, `--name=value`, or the environment variable. */
function option(name: string, envName: string): string | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  if (at >= 0 && args[at + 1] && !args[at + 1].startsWith('--')) return args[at + 1];
  const inline = args.find((a) => a.startsWith(`--${name}=`));
  if (inline) return inline.slice(name.length + 3);
  return process.env[envName];
}

const KILL_LEADER =
  process.argv.slice(2).includes('--kill-leader') || process.env.BENCH_KILL_LEADER === '1';
const REPLICAS = Number(option('replicas', 'BENCH_REPLICAS') ?? (KILL_LEADER ? 3 : 1));
/** With --kill-leader: load before the kill, and after the new leader took over. */
const KILL_AFTER_MS = Number(process.env.BENCH_KILL_AFTER_MS ?? 3000);
const LOAD_AFTER_TAKEOVER_MS = Number(process.env.BENCH_LOAD_AFTER_TAKEOVER_MS ?? 3000);
/** The replicas' LEADER_LEASE_MS (their default, 5000, unless told). */
const LEADER_LEASE_MS = process.env.BENCH_LEADER_LEASE_MS;

async function main() {
  if (!Number.isInteger(REPLICAS) || REPLICAS < 1 || REPLICAS > 8)
    throw new Error('--replicas must be an integer from 1 to 8');
  if (KILL_LEADER && REPLICAS < 2) throw new Error('--kill-leader needs --replicas 2 or more');
  // The events stream is read from here on to check the relay (clocks of one machine).
  const startedAt = new Date(Date.now() - 1000);
  const db = await createTestDatabase('plexus_bench_write');
  progress(`database ${db.name}, NATS ${BENCH_NATS_URL}, ${REPLICAS} replica(s)`);
  const replicas = await startReplicas(
    REPLICAS,
    db.url,
    LEADER_LEASE_MS ? { LEADER_LEASE_MS } : {},
  );
  const router = new ReplicaRouter(replicas);
  const request = replicas[0].request;
  const call = async (worker: number, method: string, path: string, body: unknown) => {
    const res = await router.send(worker, method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status}: ${res.body}`);
  };
  try {
    progress(`seeding ${NODES} nodes with one http-endpoint each`);
    for (let n = 0; n < NODES; n++) {
      await call(n, 'PUT', `/nodes/bench-${n}`, { properties: {} });
      await call(n, 'PUT', `/nodes/bench-${n}/modules/web`, {
        type: 'http-endpoint',
        config: { port: '8000', message: 'start' },
      });
    }
    const write = (worker: number, i: number) =>
      call(worker, 'PATCH', `/nodes/bench-${(worker * 7919 + i) % NODES}/modules/web/config`, {
        message: `w${worker}-${i}`,
      });

    if (KILL_LEADER) {
      progress('warm-up');
      await closedLoop(16, 2, write);
      console.log(JSON.stringify(await killLeaderRun(db.url, replicas, router, startedAt)));
      return;
    }

    progress('warm-up');
    await closedLoop(16, 2, write);
    progress(`concurrency 1 for ${SECONDS}s`);
    const c1 = await closedLoop(1, SECONDS, write);

    // The peers get as many writers, on keys spread as these writes are over nodes, with values
    // the size of a Plexus config-change event.
    const load: PeerWriteLoad = {
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      keyOf: (worker, i) => `nodes/bench-${(worker * 7919 + i) % NODES}/modules/web`,
      valueBytes: (await configChangeBytes(db.url)) ?? 300,
    };
    // Concurrency 16 in rounds that alternate with etcd's (A B B A ...): this machine's speed
    // drifts by tens of percent within a minute, and a ratio of two runs taken a minute apart
    // measured the drift as much as either system.
    const etcd = await openEtcdPeer(load);
    const c16Rounds: LoopRun[] = [];
    const etcdRounds: PeerRun[] = [];
    router.resetStats();
    try {
      const roundSeconds = SECONDS / ROUNDS;
      for (let r = 0; r < ROUNDS; r++) {
        const plexusRound = async () => {
          progress(
            `round ${r + 1}/${ROUNDS}: Plexus, concurrency ${CONCURRENCY} for ${roundSeconds}s`,
          );
          c16Rounds.push(await closedLoop(CONCURRENCY, roundSeconds, write));
        };
        const etcdRound = async () => {
          if (!etcd) return;
          progress(
            `round ${r + 1}/${ROUNDS}: etcd, ${CONCURRENCY} concurrent puts for ${roundSeconds}s`,
          );
          etcdRounds.push(await etcd.run(roundSeconds));
        };
        if (r % 2 === 0) await plexusRound().then(etcdRound);
        else await etcdRound().then(plexusRound);
      }
    } finally {
      await etcd?.close();
    }
    const c16 = mergeRuns(c16Rounds);
    const etcdRun = etcd ? mergeRuns(etcdRounds) : null;
    const perReplica = router.figures(SECONDS);

    // The control plane's CPU time per write (utime + stime of its process, relay included):
    // unlike writes/s it hardly moves when other work shares the machine.
    // Postgres's share likewise: the CPU time of the server processes serving this database.
    progress(`control-plane and Postgres CPU time over ${CPU_WRITES} writes at concurrency 16`);
    const pg = new Client({ connectionString: db.url });
    pg.on('error', () => undefined); // dropped with the database when the run fails
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
    // every replica's: the relay leader's share differs from the others'
    const cpuOf = (r: Replica) => processCpuMs(r.process.child.pid!);
    const replicasCpuMs = () => replicas.reduce((sum, r) => sum + cpuOf(r), 0);
    const cpuBefore = replicasCpuMs();
    const cpuBeforeOf = new Map(replicas.map((r) => [r, cpuOf(r)]));
    const postgresBefore = await postgresCpuMs();
    // A write answered 503 on a loaded machine is counted, not fatal.
    let cpuRunErrors = 0;
    await fixedCount(16, CPU_WRITES, (worker, i) =>
      write(worker, i).catch(() => void cpuRunErrors++),
    );
    await new Promise((r) => setTimeout(r, 300)); // the relay publishes the last writes
    const cpuMsPerWrite = (replicasCpuMs() - cpuBefore) / CPU_WRITES;
    const leader = REPLICAS > 1 ? await relayLeader(replicas) : null;
    // each replica's CPU time over the run, per write of the whole run
    const cpuShares = new Map(
      replicas.map((r) => [r, round((cpuOf(r) - cpuBeforeOf.get(r)!) / CPU_WRITES, 3)]),
    );
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
    await store.close();

    const peerNats = await connect({ ...BENCH_NATS });
    const natsKv = await natsKvPuts(peerNats, load);
    await peerNats.close();

    const result = {
      apiWritesPerSecC1: round(c1.perSec, 0),
      apiP50MsC1: round(percentile(c1.latencies, 50)),
      apiP99MsC1: round(percentile(c1.latencies, 99)),
      apiWritesPerSecC16: round(c16.perSec, 0),
      apiP50MsC16: round(percentile(c16.latencies, 50)),
      apiP99MsC16: round(percentile(c16.latencies, 99)),
      etcdPutsPerSec: etcdRun ? round(etcdRun.perSec, 0) : null,
      etcdP50Ms: etcdRun ? round(percentile(etcdRun.latencies, 50)) : null,
      etcdP99Ms: etcdRun ? round(percentile(etcdRun.latencies, 99)) : null,
      writeRatioToEtcd: etcdRun ? round(c16.perSec / etcdRun.perSec) : null,
      // each round's ratio, to show how far the machine drifted within the run
      writeRatioToEtcdByRound: etcdRun
        ? c16Rounds.map((run, i) => round(run.perSec / etcdRounds[i].perSec))
        : null,
      natsKvPutsPerSec: round(natsKv.perSec, 0),
      natsKvP99Ms: round(percentile(natsKv.latencies, 99)),
      apiErrors: c1.errors + c16.errors + cpuRunErrors,
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
      etcdCpuMsPerPut: etcdRun
        ? round(sum(etcdRounds, (r) => r.serverCpuMs) / etcdRun.count, 3)
        : null,
      etcdLoadGeneratorCpuMsPerPut: etcdRun
        ? round(sum(etcdRounds, (r) => r.loadGeneratorCpuMs) / etcdRun.count, 3)
        : null,
      // On two cores the ratio follows these: CPU per write of every process involved, the load
      // generator included, against the same for an etcd put.
      allProcessesCpuMsPerWrite: round(
        cpuMsPerWrite + postgresCpuMsPerWrite + (natsCpuMsPerWrite ?? 0) + clientCpuMsPerWrite,
        3,
      ),
      etcdAllProcessesCpuMsPerPut: etcdRun
        ? round(sum(etcdRounds, (r) => r.serverCpuMs + r.loadGeneratorCpuMs) / etcdRun.count, 3)
        : null,
      peerErrors: (etcdRun?.errors ?? 0) + natsKv.errors,
      peerValueBytes: load.valueBytes,
      nodes: NODES,
      secondsPerRun: SECONDS,
      roundsAtC16: ROUNDS,
      replicas: REPLICAS,
      // concurrency 16, each load connection kept to one replica
      ...(REPLICAS > 1
        ? {
            perReplica: perReplica.map((figures, i) => ({
              ...figures,
              relayLeader: replicas[i] === leader,
              cpuMsPerWriteOfAll: cpuShares.get(replicas[i]),
            })),
          }
        : {}),
    };
    console.log(JSON.stringify(result));
  } finally {
    await Promise.all(replicas.map((r) => r.process.kill('SIGTERM')));
    await dropBenchDatabase(db);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

type LoopRun = Awaited<ReturnType<typeof closedLoop>>;

const sum = <T>(items: T[], of: (item: T) => number) => items.reduce((a, i) => a + of(i), 0);

/** Rounds of one load as one run: all their writes over all their time. */
function mergeRuns<T extends LoopRun>(runs: T[]): LoopRun {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = sum(runs, (r) => (r.perSec > 0 ? r.count / r.perSec : 0));
  return {
    perSec: seconds > 0 ? latencies.length / seconds : 0,
    latencies,
    errors: sum(runs, (r) => r.errors),
    firstError: runs.find((r) => r.firstError)?.firstError,
    count: latencies.length,
  };
}

/** The mean size of a config-change event's payload and metadata as stored (JSON). */
async function configChangeBytes(databaseUrl: string): Promise<number | null> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ bytes: number | null }>(
      `SELECT avg(octet_length(payload::text) + octet_length(metadata::text))::int AS bytes
         FROM events WHERE type = 'ModuleConfigChanged'`,
    );
    return rows[0]?.bytes ?? null;
  } finally {
    await pg.end();
  }
}

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

/**
 * 16 writers, each kept to one replica; KILL_AFTER_MS into the load the relay leader is killed
 * (-9), and the load goes on until LOAD_AFTER_TAKEOVER_MS after another replica leads. Writers of
 * the killed replica go to the next one (a request that was in flight there fails). Then the
 * events stream is compared with the database: each event once, in order.
 */
async function killLeaderRun(
  databaseUrl: string,
  replicas: Replica[],
  router: ReplicaRouter,
  startedAt: Date,
) {
  const nc = await connect({ servers: BENCH_NATS_URL });
  try {
    // When events reach NATS: the relay's blip as a consumer sees it.
    const arrivals: number[] = [];
    nc.subscribe('plexus.events.>', { callback: () => arrivals.push(performance.now()) });
    const leader = await waitFor('a relay leader', () => relayLeader(replicas), 60_000, 100);
    const roles = new Map(replicas.map((r) => [r, r === leader ? 'leader' : 'standby']));
    router.resetStats();

    const acks: { at: number; correlationId: string }[] = [];
    let failedWrites = 0;
    let firstFailure: string | undefined;
    /** Writes that got no answer (in flight on the killed replica): stored or not, unknown. */
    const unanswered: string[] = [];
    let running = true;
    const loadStarted = performance.now();
    const writers = Array.from({ length: 16 }, async (_, worker) => {
      for (let i = 0; running; i++) {
        const correlationId = `kill-w${worker}-${i}`;
        try {
          const res = await router.send(
            worker,
            'PATCH',
            `/nodes/bench-${(worker * 7919 + i) % NODES}/modules/web/config`,
            { message: correlationId },
            { 'x-correlation-id': correlationId },
          );
          if (res.status < 300) acks.push({ at: performance.now(), correlationId });
          else {
            failedWrites++;
            firstFailure ??= `${res.status} from replica ${res.replica.index}: ${res.body.slice(0, 200)}`;
          }
        } catch (err) {
          failedWrites++;
          unanswered.push(correlationId);
          firstFailure ??= (err as Error).message;
        }
      }
    });

    await sleep(KILL_AFTER_MS);
    progress(`killing the relay leader, replica ${leader.index} (pid ${leader.process.child.pid})`);
    const killedAt = performance.now();
    leader.process.child.kill('SIGKILL');
    const survivors = replicas.filter((r) => r !== leader);
    const successor = await waitFor(
      'another replica leading the relay',
      () => relayLeader(survivors),
      60_000,
      25,
    );
    const relayTakeoverMs = performance.now() - killedAt;
    progress(`replica ${successor.index} leads after ${round(relayTakeoverMs, 0)} ms`);
    await sleep(LOAD_AFTER_TAKEOVER_MS);
    running = false;
    await Promise.all(writers);
    const loadSeconds = (performance.now() - loadStarted) / 1000;

    const ackTimes = acks.map((a) => a.at).sort((a, b) => a - b);
    // The longest stretch without a successful write (or without an event reaching NATS),
    // after the kill (the stretch the kill falls in included), and before it for comparison.
    const longestGap = (times: number[], from: number, to: number) => {
      let longest = 0;
      let previous = from;
      for (const t of times) {
        if (t < from) {
          previous = t;
          continue;
        }
        if (t > to) break;
        longest = Math.max(longest, t - previous);
        previous = t;
      }
      return longest;
    };
    const end = performance.now();
    const blipMs = longestGap(ackTimes, killedAt, end);
    const gapBeforeKillMs = longestGap(ackTimes, loadStarted, killedAt);
    const relayGapMs = longestGap(
      [...arrivals].sort((a, b) => a - b),
      killedAt,
      end,
    );

    progress('reading the events stream back and comparing it with Postgres');
    const audit = await waitFor(
      'every event of the database on the stream',
      async () => {
        const a = await auditEventStream(databaseUrl, nc, startedAt);
        return a.missing === 0 && a;
      },
      30_000,
      1000,
    ).catch(() => auditEventStream(databaseUrl, nc, startedAt));
    const pg = new Client({ connectionString: databaseUrl });
    await pg.connect();
    const stored = async (ids: string[]) => {
      const { rows } = await pg.query<{ n: string }>(
        `SELECT count(DISTINCT metadata->>'correlationId') AS n FROM events
         WHERE metadata->>'correlationId' = ANY($1)`,
        [ids],
      );
      return Number(rows[0].n);
    };
    const ackedStored = await stored(acks.map((a) => a.correlationId));
    const unansweredStored = await stored(unanswered);
    await pg.end();

    const latencies = replicas.flatMap((r) => r.stats.latencies).sort((a, b) => a - b);
    return {
      replicas: replicas.length,
      writers: 16,
      loadSeconds: round(loadSeconds, 1),
      writesPerSec: round(acks.length / loadSeconds, 0),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      acknowledgedWrites: acks.length,
      failedWrites,
      ...(firstFailure ? { firstFailure: firstFailure.slice(0, 300) } : {}),
      // the longest time without a successful write, from the kill on
      blipMs: round(blipMs, 0),
      // the same before the kill: what the loaded machine shows without one
      longestGapBeforeKillMs: round(gapBeforeKillMs, 0),
      // kill -> a surviving replica's /health says it leads the relay
      relayTakeoverMs: round(relayTakeoverMs, 0),
      // the longest time without an event reaching a NATS subscriber, from the kill on
      relayGapMs: round(relayGapMs, 0),
      leaderLeaseMs: Number(LEADER_LEASE_MS ?? 5000),
      eventsInPostgres: audit.inPostgres,
      missingEvents: audit.missing,
      duplicateEvents: audit.duplicates,
      outOfOrderEvents: audit.outOfOrder,
      ...(audit.missing ? { missingSample: audit.missingSample } : {}),
      acknowledgedWritesNotInPostgres: acks.length - ackedStored,
      // writes the killed replica took but never answered: how many of them it had committed
      unansweredWrites: unanswered.length,
      unansweredWritesStored: unansweredStored,
      perReplica: router.figures(loadSeconds, (r) => ({
        role: roles.get(r),
        killed: r === leader,
        ...(r === successor ? { tookOver: true } : {}),
      })),
    };
  } finally {
    await nc.close();
  }
}
