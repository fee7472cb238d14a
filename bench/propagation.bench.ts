/**
 * bench:propagation — "write acknowledged → applied on every process", for a node of 3 and of 20
 * worker processes (DESIGN.md, Benchmarks).
 *
 * Starts the built control plane on a fresh database (shared Postgres and NATS) and N built
 * workers of one node, each running one http-endpoint module (port offsets 0..N-1). For every
 * change it PATCHes the module's `message` through the admin API and takes
 * process.hrtime.bigint() the moment the HTTP response arrived ("acknowledged"; bench/support's
 * lean node:http client, which resolves when the one-packet response has been read). Every worker
 * reports, on core NATS, the hrtime at which it finished applying the document (same machine-wide
 * monotonic clock). Propagation of a change = max over the processes of (applied − acknowledged).
 * Values are kept signed: a process may apply a change before its HTTP response reaches the
 * client, which shows up as a negative value (never clamped).
 *
 * Changes are measured one at a time: the next is sent only when every process has applied the
 * previous one, plus a few ms. After the CHANGES report-timed changes, SERVED_WARMUP + SERVED
 * more are timed by polling GET / on every process every POLL_MS until all serve the new message
 * (the "served" figure, over the last SERVED); they are kept out of the report-based figures,
 * since the polling itself loads the 2 cores the workers run on (their report-based p99 is given
 * as propagationWhilePollingP50/P99Ms, with documentOnNatsWhilePollingP50Ms and
 * firstAppliedWhilePollingP50Ms beside them, so that the served figure splits into the way to
 * NATS, the first process, the last one, and the polling; the time to NATS is when this bench's
 * own watcher saw the document, late by however busy its polling keeps it). CPU per change
 * (workers, control plane) is read from /proc over the report-timed changes.
 *
 * The peer baseline, in the same run: a bare NATS JetStream KV fleet of N (bench/peers: plain
 * Node processes watching one key of a bucket of their own and serving its value on GET /) gets
 * puts of a value the size of the Plexus node document, each timed from the put's
 * acknowledgement to every process serving it, by the same poller (bench/propagation.poller.ts)
 * with the same number of samples: half of SERVED just before the Plexus fleet of N starts and
 * half just after it stopped (the two never share the CPU), each half after SERVED_WARMUP puts.
 * Bracketing the Plexus fleet so, the baseline sees the host as it was on both sides: the host's
 * speed drifts by minutes, and with the baseline after Plexus only, its median at N=20 moved from
 * 5.1 to 7.7 ms between runs of the same code. natsKvServed* and the ratios servedP50/P99RatioToNatsKv<N>
 * (Plexus ÷ NATS KV) sit beside propagationServed*. Each half also times CHANGES / 2 puts (after
 * WARMUP) by the watchers' own reports, sent as a worker sends its applied report (the hrtime it
 * took the value at, REPORT_DELAY_MS later, on core NATS), one put at a time as the Plexus
 * changes are: natsKvP50/P99Ms<N> and p50/p99RatioToNatsKv<N> sit beside propagationP50/P99Ms<N>.
 *
 * Both fleets are fresh processes running the same code on the same input, so V8 optimises the
 * same functions at the same change in all N of them: on 2 cores, a few changes in 200 wait for
 * N compilations at once. BENCH_WORKER_NODE_ARGS and BENCH_PEER_NODE_ARGS (flags for node in
 * every worker / watcher, e.g. `--no-opt`) show how much of a p99 that is, and BENCH_CHANGES_FILE
 * (one JSON line per Plexus change, each process's apply time) which changes were slow.
 * BENCH_WRITES_VIA=standby sends every write through a second control plane that does not lead
 * the relay (its commits reach NATS through the leader).
 *
 * Besides the required keys it reports where the time goes: ack → the node document seen on NATS
 * by a core subscriber (the relay's part), ack → the first process applied, and the spread between
 * the first and the last process to apply (with N processes on a 2-core host, mostly the fleet
 * taking turns on the CPU). The acknowledgement is timed in this process: when this process is
 * descheduled, the ack is taken late and a change's propagation can come out negative.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import * as net from 'node:net';
import { connect, NatsConnection } from 'nats';
import { APPLIED_ALL, AppliedReport, nodeDocumentKey, NODES_BUCKET } from '@plexus/bus';
import { createTestDatabase } from '../test/support/databases';
import { freePort, waitFor } from '../test/support/ports';
import {
  SpawnedProcess,
  spawnControlPlane,
  spawnWorker,
  stopProcess,
} from '../test/support/processes';
import { NatsKvFleet } from './peers';
import { ServedPoller, timeServed } from './propagation.poller';
import {
  BENCH_NATS,
  BENCH_NATS_URL,
  BENCH_TOKEN,
  cpuMs,
  dropBenchDatabase,
  jsonClient,
  percentile,
  progress,
  round,
  rssMb,
} from './support';
import { sleep } from '@plexus/common';

/** BENCH_QUICK=1: a short run (fewer changes) to try the bench out, not to quote. */
const QUICK = process.env.BENCH_QUICK === '1';
const FLEETS = (process.env.BENCH_FLEETS ?? '3,20').split(',').map(Number);
const CHANGES = Number(process.env.BENCH_CHANGES ?? (QUICK ? 40 : 200));
/** Changes timed by polling, for Plexus and for the NATS KV peer alike, after SERVED_WARMUP. */
const SERVED = Number(process.env.BENCH_SERVED ?? (QUICK ? 40 : 200));
const SERVED_WARMUP = Number(process.env.BENCH_SERVED_WARMUP ?? (QUICK ? 5 : 20));
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 2);
const WARMUP = 10;
const GAP_MS = 5;
const IDLE_MS = 4000;
const REPORT_TIMEOUT_MS = 15_000;
const WORKER_LOG_LEVEL = process.env.BENCH_WORKER_LOG_LEVEL ?? 'warn';
/** Flags for node itself in every worker, and in every NATS KV watcher (`--no-opt`, ...). */
const WORKER_NODE_ARGS = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean);
const PEER_NODE_ARGS = process.env.BENCH_PEER_NODE_ARGS?.split(' ').filter(Boolean);
/** A file that gets one JSON line per Plexus change: when each process applied it. */
const CHANGES_FILE = process.env.BENCH_CHANGES_FILE;
/**
 * `standby`: a second control plane runs beside the relay leader and takes every write, as
 * behind a load balancer half the writes would; the leader's CPU is counted with the standby's.
 */
const WRITES_VIA = process.env.BENCH_WRITES_VIA === 'standby' ? 'standby' : 'leader';

const nsToMs = (ns: bigint) => Number(ns) / 1e6;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port B (below the ephemeral range) with B .. B+count-1 free. */
async function portRange(count: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if ((await Promise.all(ports.map(portIsFree))).every(Boolean)) return base;
  }
}

/** Applied reports and KV sightings of the node being measured, by version. */
class Observer {
  private nodeId = '';
  readonly applied = new Map<number, Map<string, { ns: bigint; ok: boolean }>>();
  readonly documentSeen = new Map<number, bigint>();
  /** Size of the last node document seen, for the peer's values. */
  documentBytes = 0;
  private waiter: { version: number; count: number; resolve: () => void } | null = null;

  constructor(nc: NatsConnection) {
    nc.subscribe(APPLIED_ALL, {
      callback: (_err, msg) => {
        if (!msg) return;
        const r = msg.json<AppliedReport>();
        if (r.nodeId !== this.nodeId) return;
        const byProcess = this.applied.get(r.version) ?? new Map();
        byProcess.set(r.processId, { ns: BigInt(r.hrtimeNs), ok: r.ok });
        this.applied.set(r.version, byProcess);
        this.check();
      },
    });
    // The relay's KV put, as any core subscriber sees it: when the document reached NATS.
    nc.subscribe(`$KV.${NODES_BUCKET}.>`, {
      callback: (_err, msg) => {
        const ns = process.hrtime.bigint();
        if (!msg || msg.subject !== `$KV.${NODES_BUCKET}.${nodeDocumentKey(this.nodeId)}`) return;
        try {
          const version = (msg.json() as { version: number }).version;
          if (!this.documentSeen.has(version)) this.documentSeen.set(version, ns);
          this.documentBytes = msg.data.length;
        } catch {
          /* a purge marker */
        }
      },
    });
  }

  /** Starts observing another node (versions restart at 1: forget the previous node's). */
  observe(nodeId: string) {
    this.nodeId = nodeId;
    this.applied.clear();
    this.documentSeen.clear();
    this.waiter = null;
  }

  private check() {
    const w = this.waiter;
    if (w && (this.applied.get(w.version)?.size ?? 0) >= w.count) {
      this.waiter = null;
      w.resolve();
    }
  }

  /** Resolves true when `count` processes reported `version`, false after the timeout. */
  async appliedBy(version: number, count: number, timeoutMs = REPORT_TIMEOUT_MS) {
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => {
      this.waiter = { version, count, resolve: () => resolve(true) };
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    this.check();
    const ok = await done;
    clearTimeout(timer);
    this.waiter = null;
    return ok;
  }
}

interface Sample {
  propagationMs: number;
  /** From the request sent (not its answer) to the last process applying. */
  fromRequestMs: number;
  firstMs: number;
  documentSeenMs: number | null;
  apiMs: number;
}

async function main() {
  const db = await createTestDatabase('plexus_bench_prop');
  const cpPort = await freePort();
  progress(
    `starting the control plane on :${cpPort} with database ${db.name}, NATS ${BENCH_NATS_URL}`,
  );
  const cp = await spawnControlPlane({
    DATABASE_URL: db.url,
    NATS_URL: BENCH_NATS_URL,
    PORT: cpPort,
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
    // e.g. BENCH_CP_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (as bench:write)
    nodeArgs: process.env.BENCH_CP_NODE_ARGS?.split(' ').filter(Boolean),
  });
  const standby = WRITES_VIA === 'standby' ? await startStandby(db.url, cp.url) : null;
  const request = jsonClient((standby ?? cp).url, { authorization: `Bearer ${BENCH_TOKEN}` });
  const controlPlaneCpuMs = () => cpuMs(cp.child.pid!) + (standby ? cpuMs(standby.child.pid!) : 0);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await request(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status} ${res.body}`);
    return JSON.parse(res.body);
  };
  const nc = await connect({ ...BENCH_NATS, name: 'bench-propagation' });
  const observer = new Observer(nc);
  const nodeIds: string[] = [];
  let workers: SpawnedProcess[] = [];
  const result: Record<string, unknown> = {};

  try {
    for (const n of FLEETS) {
      const nodeId = `prop${n}-${randomBytes(4).toString('hex')}`;
      nodeIds.push(nodeId);
      observer.observe(nodeId);
      const base = await portRange(n);
      await call('PUT', `/nodes/${nodeId}`, { properties: {} });
      const created = await call('PUT', `/nodes/${nodeId}/modules/web`, {
        type: 'http-endpoint',
        config: { port: String(base), message: 'start' },
      });
      let version: number = created.version;

      // The first half of the baseline, with values the size of the node's document as created.
      const peerBefore = await natsKvBaseline(
        nc,
        n,
        await storedDocumentBytes(nc, nodeId, version),
        { reported: Math.ceil(CHANGES / 2), served: Math.ceil(SERVED / 2) },
        'before',
      );

      progress(
        `fleet of ${n}: starting ${n} workers of ${nodeId} on ports ${base}..${base + n - 1}`,
      );
      workers = Array.from({ length: n }, (_, i) =>
        spawnWorker({
          nodeId,
          portOffset: i,
          natsUrl: BENCH_NATS_URL,
          logLevel: WORKER_LOG_LEVEL,
          nodeArgs: WORKER_NODE_ARGS,
        }),
      );
      if (!(await observer.appliedBy(version, n, 90_000))) {
        const dead = workers.filter((w) => w.child.exitCode !== null);
        throw new Error(
          `only ${observer.applied.get(version)?.size ?? 0} of ${n} workers applied version ${version}` +
            (dead.length ? `; one exited: ${dead[0].output().slice(-2000)}` : ''),
        );
      }
      progress(`fleet of ${n}: all applied version ${version}; idle for ${IDLE_MS} ms`);
      await sleep(IDLE_MS);
      const idleRss = workers.map((w) => rssMb(w.child.pid!));

      const samples: Sample[] = [];
      const polled: Sample[] = [];
      let missing = 0;

      /** PATCHes the module's message: the hrtimes it was sent and acknowledged at. */
      const patch = async (message: string) => {
        const sentNs = process.hrtime.bigint();
        const res = await request('PATCH', `/nodes/${nodeId}/modules/web/config`, { message });
        const ackNs = process.hrtime.bigint();
        if (res.status !== 200) throw new Error(`PATCH -> ${res.status} ${res.body}`);
        version = (JSON.parse(res.body) as { version: number }).version;
        return { sentNs, ackNs };
      };
      /** The current version's sample once every process reported it; null when some did not. */
      const reported = async ({ sentNs, ackNs }: { sentNs: bigint; ackNs: bigint }) => {
        if (!(await observer.appliedBy(version, n))) {
          missing++;
          progress(
            `version ${version}: only ${observer.applied.get(version)?.size ?? 0} of ${n} reports`,
          );
          return null;
        }
        const applied = [...observer.applied.get(version)!.values()].map((a) => a.ns);
        if (CHANGES_FILE) recordChange(n, version, sentNs, ackNs, observer);
        const last = applied.reduce((a, b) => (b > a ? b : a));
        const first = applied.reduce((a, b) => (b < a ? b : a));
        const seen = observer.documentSeen.get(version);
        observer.applied.delete(version - 2);
        observer.documentSeen.delete(version - 2);
        return {
          propagationMs: nsToMs(last - ackNs),
          fromRequestMs: nsToMs(last - sentNs),
          firstMs: nsToMs(first - ackNs),
          documentSeenMs: seen === undefined ? null : nsToMs(seen - ackNs),
          apiMs: nsToMs(ackNs - sentNs),
        };
      };
      const change = async (label: string): Promise<Sample | null> => {
        const sample = await reported(await patch(`${label}-${version + 1}`));
        await sleep(GAP_MS);
        return sample;
      };

      progress(`fleet of ${n}: ${WARMUP} warm-up changes`);
      for (let i = 0; i < WARMUP; i++) await change('warmup');
      const cpuBefore = {
        workers: workers.map((w) => cpuMs(w.child.pid!)),
        cp: controlPlaneCpuMs(),
      };
      const startedNs = process.hrtime.bigint();
      progress(`fleet of ${n}: ${CHANGES} changes timed by the processes' reports`);
      for (let i = 0; i < CHANGES; i++) {
        const s = await change('c');
        if (s) samples.push(s);
        if ((i + 1) % 50 === 0) progress(`fleet of ${n}: ${i + 1} changes`);
      }
      const elapsedMs = nsToMs(process.hrtime.bigint() - startedNs);
      const workerCpu = workers.map((w, i) => cpuMs(w.child.pid!) - cpuBefore.workers[i]);
      const cpCpu = controlPlaneCpuMs() - cpuBefore.cp;

      progress(
        `fleet of ${n}: ${SERVED_WARMUP} + ${SERVED} changes timed by polling GET / on every ` +
          `process every ${POLL_MS} ms`,
      );
      const poller = new ServedPoller(
        workers.map((_, i) => base + i),
        POLL_MS,
        REPORT_TIMEOUT_MS,
      );
      let lastPatch = { sentNs: 0n, ackNs: 0n };
      let polledChanges = 0;
      const served = await timeServed({
        poller,
        warmup: SERVED_WARMUP,
        count: SERVED,
        gapMs: GAP_MS,
        change: async (message) => {
          lastPatch = await patch(message);
          return lastPatch.ackNs;
        },
        // Every process reported too (so the next change starts from a settled fleet).
        settle: async () => {
          const s = await reported(lastPatch);
          if (polledChanges++ >= SERVED_WARMUP && s) polled.push(s);
        },
        progress: (done) => progress(`fleet of ${n}: ${done} polled changes`),
      });
      poller.close();
      await sleep(IDLE_MS);
      const afterRss = workers.map((w) => rssMb(w.child.pid!));

      const sorted = (f: (s: Sample) => number | null, from = samples) =>
        from
          .map(f)
          .filter((x): x is number => x !== null)
          .sort((a, b) => a - b);
      const prop = sorted((s) => s.propagationMs);
      const seen = sorted((s) => s.documentSeenMs);
      const first = sorted((s) => s.firstMs);
      const spread = sorted((s) => s.propagationMs - s.firstMs);
      const api = sorted((s) => s.apiMs);
      const fromRequest = sorted((s) => s.fromRequestMs);
      const polledProp = sorted((s) => s.propagationMs, polled);
      const polledSeen = sorted((s) => s.documentSeenMs, polled);
      const polledFirst = sorted((s) => s.firstMs, polled);
      Object.assign(result, {
        [`propagationP50Ms${n}`]: round(percentile(prop, 50)),
        [`propagationP99Ms${n}`]: round(percentile(prop, 99)),
        [`propagationMaxMs${n}`]: round(prop[prop.length - 1]),
        [`propagationMinMs${n}`]: round(prop[0]),
        [`propagationServedP50Ms${n}`]: round(percentile(served, 50)),
        [`propagationServedP99Ms${n}`]: round(percentile(served, 99)),
        // filled in once the peer fleet ran (here so that they print beside Plexus's)
        [`natsKvP50Ms${n}`]: null,
        [`natsKvP99Ms${n}`]: null,
        [`p50RatioToNatsKv${n}`]: null,
        [`p99RatioToNatsKv${n}`]: null,
        [`natsKvServedP50Ms${n}`]: null,
        [`natsKvServedP99Ms${n}`]: null,
        [`servedP50RatioToNatsKv${n}`]: null,
        [`servedP99RatioToNatsKv${n}`]: null,
        [`propagationWhilePollingP50Ms${n}`]: round(percentile(polledProp, 50)),
        [`propagationWhilePollingP99Ms${n}`]: round(percentile(polledProp, 99)),
        [`documentOnNatsWhilePollingP50Ms${n}`]: round(percentile(polledSeen, 50)),
        [`firstAppliedWhilePollingP50Ms${n}`]: round(percentile(polledFirst, 50)),
        [`documentOnNatsP50Ms${n}`]: round(percentile(seen, 50)),
        [`documentOnNatsP99Ms${n}`]: round(percentile(seen, 99)),
        [`firstAppliedP50Ms${n}`]: round(percentile(first, 50)),
        [`firstAppliedP99Ms${n}`]: round(percentile(first, 99)),
        [`applySpreadP50Ms${n}`]: round(percentile(spread, 50)),
        [`applySpreadP99Ms${n}`]: round(percentile(spread, 99)),
        [`apiPatchP50Ms${n}`]: round(percentile(api, 50)),
        // From the request sent to the last process applying: what an earlier or later HTTP
        // answer cannot shift (propagation is timed from the answer).
        [`requestToAppliedP50Ms${n}`]: round(percentile(fromRequest, 50)),
        [`requestToAppliedP99Ms${n}`]: round(percentile(fromRequest, 99)),
        [`workerCpuMsPerChange${n}`]: round(
          workerCpu.reduce((a, b) => a + b, 0) / n / samples.length,
        ),
        [`controlPlaneCpuMsPerChange${n}`]: round(cpCpu / samples.length),
        [`changesPerSec${n}`]: round(samples.length / (elapsedMs / 1000), 1),
        [`changes${n}`]: samples.length,
        [`servedChanges${n}`]: served.length,
        [`missingReports${n}`]: missing,
        [`workerRssIdleMaxMb${n}`]: round(Math.max(...idleRss), 1),
        [`workerRssAfterChangesMaxMb${n}`]: round(Math.max(...afterRss), 1),
      });
      if (n === FLEETS[0]) result.workerRssMb = round(idleRss[0], 1);
      progress(
        `fleet of ${n}: propagation p50 ${result[`propagationP50Ms${n}`]} ms, p99 ` +
          `${result[`propagationP99Ms${n}`]} ms, served p99 ${result[`propagationServedP99Ms${n}`]} ms`,
      );

      progress(`fleet of ${n}: stopping the workers`);
      const codes = await Promise.all(workers.map((w) => stopProcess(w)));
      if (codes.some((c) => c !== 0)) progress(`worker exit codes: ${codes.join(',')}`);
      workers = [];

      const peerAfter = await natsKvBaseline(
        nc,
        n,
        observer.documentBytes,
        { reported: Math.floor(CHANGES / 2), served: Math.floor(SERVED / 2) },
        'after',
      );
      const peer = bothHalves(peerBefore, peerAfter);
      const ratio = (p: number) => round(percentile(served, p) / percentile(peer.served, p));
      const reportRatio = (p: number) => round(percentile(prop, p) / percentile(peer.reported, p));
      Object.assign(result, {
        [`natsKvP50Ms${n}`]: round(percentile(peer.reported, 50)),
        [`natsKvP99Ms${n}`]: round(percentile(peer.reported, 99)),
        [`p50RatioToNatsKv${n}`]: reportRatio(50),
        [`p99RatioToNatsKv${n}`]: reportRatio(99),
        [`natsKvServedP50Ms${n}`]: round(percentile(peer.served, 50)),
        [`natsKvServedP99Ms${n}`]: round(percentile(peer.served, 99)),
        [`servedP50RatioToNatsKv${n}`]: ratio(50),
        [`servedP99RatioToNatsKv${n}`]: ratio(99),
        [`natsKvPutP50Ms${n}`]: round(percentile(peer.putMs, 50)),
        [`natsKvServedChanges${n}`]: peer.served.length,
        [`natsKvChanges${n}`]: peer.reported.length,
      });
      if (n === FLEETS[0]) {
        result.natsKvWatcherRssMb = round(peer.rssMb, 1);
        result.natsKvValueBytes = peer.valueBytes;
      }
      progress(
        `NATS KV fleet of ${n}: reported p50 ${result[`natsKvP50Ms${n}`]} ms, p99 ` +
          `${result[`natsKvP99Ms${n}`]} ms; Plexus ÷ NATS KV: p50 ${reportRatio(50)}, p99 ` +
          `${reportRatio(99)}. Served p50 ${result[`natsKvServedP50Ms${n}`]} ms, p99 ` +
          `${result[`natsKvServedP99Ms${n}`]} ms; Plexus ÷ NATS KV: p50 ${ratio(50)}, p99 ${ratio(99)}`,
      );
    }
    result.writesVia = WRITES_VIA;
    result.negativeValues = 'kept (not clamped)';
    console.log(JSON.stringify(result));
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w)));
    if (standby) await stopProcess(standby);
    await stopProcess(cp);
    await nc.close();
    await dropBenchDatabase(db);
  }
}

/**
 * Appends one line to CHANGES_FILE: the change's version, the hrtime (ms) of its acknowledgement,
 * and each process's apply relative to it, sorted; for finding what the slow changes share.
 */
function recordChange(
  n: number,
  version: number,
  sentNs: bigint,
  ackNs: bigint,
  observer: Observer,
) {
  const seen = observer.documentSeen.get(version);
  const applied = [...(observer.applied.get(version) ?? new Map()).entries()]
    .map(([processId, a]) => ({ processId, ms: round(nsToMs(a.ns - ackNs)) }))
    .sort((a, b) => a.ms - b.ms);
  appendFileSync(
    CHANGES_FILE!,
    JSON.stringify({
      fleet: n,
      version,
      ackAtMs: round(nsToMs(ackNs)),
      apiMs: round(nsToMs(ackNs - sentNs)),
      documentOnNatsMs: seen === undefined ? null : round(nsToMs(seen - ackNs)),
      applied,
    }) + '\n',
  );
}

/** The size of a node's document in the bucket once it is at `version` (the relay puts it). */
/** A second control plane on the database, once the first one (at leaderUrl) leads the relay. */
async function startStandby(databaseUrl: string, leaderUrl: string) {
  await waitFor('the first control plane leading the relay', async () => {
    const health = (await (await fetch(`${leaderUrl}/health`)).json()) as { relay?: string };
    return health.relay === 'leader';
  });
  progress('starting a standby control plane: every write goes through it');
  return spawnControlPlane({
    DATABASE_URL: databaseUrl,
    NATS_URL: BENCH_NATS_URL,
    PORT: await freePort(),
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
    nodeArgs: process.env.BENCH_CP_NODE_ARGS?.split(' ').filter(Boolean),
  });
}

async function storedDocumentBytes(nc: NatsConnection, nodeId: string, version: number) {
  const kv = await nc.jetstream().views.kv(NODES_BUCKET);
  for (let waited = 0; waited < 10_000; waited += 20) {
    const entry = await kv.get(nodeDocumentKey(nodeId));
    if (entry && (entry.json<{ version: number }>().version ?? 0) >= version)
      return entry.value.length;
    await sleep(20);
  }
  throw new Error(`node ${nodeId}'s document did not reach version ${version} in the bucket`);
}

type BaselineHalf = Awaited<ReturnType<typeof natsKvBaseline>>;

/** The two halves of the peer baseline as one: samples merged and sorted, RSS of the first. */
function bothHalves(before: BaselineHalf, after: BaselineHalf): BaselineHalf {
  const merged = (key: 'reported' | 'served' | 'putMs') =>
    [...before[key], ...after[key]].sort((a, b) => a - b);
  return {
    reported: merged('reported'),
    served: merged('served'),
    putMs: merged('putMs'),
    rssMb: before.rssMb,
    valueBytes: after.valueBytes,
  };
}

/**
 * One half of the peer baseline: a bare NATS KV fleet of `n` gets puts of a value of `valueBytes`
 * (the Plexus node document's size), timed as the Plexus fleet's changes are: first WARMUP +
 * `counts.reported` by the processes' own reports (one at a time, the next GAP_MS after every
 * process reported the last), then SERVED_WARMUP + `counts.served` by the same poller; `when`:
 * before or after the Plexus fleet, for the progress lines.
 */
async function natsKvBaseline(
  nc: NatsConnection,
  n: number,
  valueBytes: number,
  counts: { reported: number; served: number },
  when: 'before' | 'after',
) {
  const base = await portRange(n);
  progress(
    `NATS KV fleet of ${n} (${when} Plexus): starting ${n} watchers on ports ${base}..${base + n - 1}`,
  );
  const fleet = await NatsKvFleet.start(nc, BENCH_NATS_URL, n, base, PEER_NODE_ARGS);
  try {
    progress(`NATS KV fleet of ${n}: all serve; idle for ${IDLE_MS} ms`);
    await sleep(IDLE_MS);
    const rss = rssMb(fleet.processes[0].child.pid!);
    const value = (message: string) => ({
      message,
      pad: 'x'.repeat(Math.max(0, valueBytes - JSON.stringify({ message, pad: '' }).length)),
    });
    progress(
      `NATS KV fleet of ${n}: ${WARMUP} + ${counts.reported} puts timed by the processes' reports`,
    );
    const reported: number[] = [];
    for (let i = 0; i < WARMUP + counts.reported; i++) {
      const times = await fleet.putReported(value(`reported-${i}`), REPORT_TIMEOUT_MS);
      if (!times) throw new Error(`not every NATS KV watcher reported put ${i} in time`);
      if (i >= WARMUP) reported.push(nsToMs(times.lastNs - times.ackNs));
      await sleep(GAP_MS);
    }
    progress(
      `NATS KV fleet of ${n}: ${SERVED_WARMUP} + ${counts.served} puts of ${valueBytes} bytes timed by ` +
        `polling GET / on every process every ${POLL_MS} ms`,
    );
    const poller = new ServedPoller(
      fleet.processes.map((_, i) => base + i),
      POLL_MS,
      REPORT_TIMEOUT_MS,
    );
    const putMs: number[] = [];
    const served = await timeServed({
      poller,
      warmup: SERVED_WARMUP,
      count: counts.served,
      gapMs: GAP_MS,
      change: async (message) => {
        const sentNs = process.hrtime.bigint();
        const ackNs = await fleet.put(value(message));
        putMs.push(nsToMs(ackNs - sentNs));
        return ackNs;
      },
      progress: (done) => progress(`NATS KV fleet of ${n}: ${done} polled puts`),
    });
    poller.close();
    putMs.sort((a, b) => a - b);
    return { reported, served, putMs, rssMb: rss, valueBytes };
  } finally {
    await fleet.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
