/**
 * bench:scale — the control plane with 10,000 node processes over 1,000 nodes (issue 18).
 *
 *   npm run bench:scale -- [--processes 10000] [--nodes 1000] [--duration 30] [--simulators 4]
 *     [--fanout-processes 1000] [--fanout-rounds 3] [--kills 100] [--churn 10] [--shared-nats]
 *     [--cpu-prof DIR]
 *
 * Starts its own nats-server (so its CPU is attributable; --shared-nats uses NATS_URL instead),
 * a fresh database on TEST_POSTGRES_URL, and the built control plane as a process
 * (LOST_AFTER_MS 3000, the default). The fleet is simulated by a few OS processes
 * (scale-simulator.ts), each running thousands of identities that speak the worker's protocol
 * over NATS: seed, join, heartbeat at 1 Hz, report applied versions, leave.
 *
 * Node 0 (the fanout node) gets `--fanout-processes` identities; the rest are spread over the
 * other nodes. Phases:
 * 1. Seed and join; wait until the control plane lists every process `up`.
 * 2. Churn starts (`--churn` identities per second leave and as many join, not on the fanout
 *    node). After 5 s, a steady window of `--duration` s: the control plane's and nats-server's
 *    CPU time from /proc (percent of one core), Postgres commits and events appended per second,
 *    heartbeats sent per second.
 * 3. Fanout: `--fanout-rounds` config changes to the fanout node. Per process, from the write's
 *    acknowledgement (HTTP answer) to the control plane's receipt of its applied report (the
 *    `reportedAt` of the ProcessConfigApplied it records, seen on the events stream);
 *    fanoutConvergeMs is the control plane's own rollout figure (GET /nodes/:id/rollout
 *    lastChange.convergeMs: commit to the last live process's report).
 * 4. Failures: `--kills` identities stop heartbeating without leaving. Detection time = arrival
 *    of their ProcessLost on the events stream − their last heartbeat (so it includes
 *    LOST_AFTER_MS). falseLost counts ProcessLost of identities still heartbeating at the time.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'nats';
import { Client } from 'pg';
import { eventsFilter, eventSubject } from '@plexus/bus';
import { sleep } from '@plexus/common';
import { createTestDatabase } from '../test/support/databases';
import { OwnNatsServer } from '../test/support/nats-server';
import { freePort } from '../test/support/ports';
import { spawnControlPlane, stopProcess } from '../test/support/processes';
import type {
  SimulatorCommand,
  SimulatorMessage,
  SimulatorStats,
  StoppedIdentity,
} from './scale-protocol';
import {
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

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number >= 0`);
  return value;
}

const PROCESSES = flag('processes', 10_000);
const NODES = flag('nodes', Math.max(1, Math.round(PROCESSES / 10)));
const DURATION_S = flag('duration', 30);
const SIMULATORS = flag('simulators', 4);
const FANOUT_PROCESSES = flag('fanout-processes', Math.min(1000, Math.floor(PROCESSES / 10)));
const FANOUT_ROUNDS = flag('fanout-rounds', 3);
const KILLS = flag('kills', 100);
const CHURN_PER_SEC = flag('churn', 10);
const SHARED_NATS = process.argv.includes('--shared-nats');
/** `--cpu-prof DIR`: the control plane writes a V8 CPU profile there when it exits. */
const CPU_PROF_DIR = process.argv.includes('--cpu-prof')
  ? process.argv[process.argv.indexOf('--cpu-prof') + 1]
  : null;
const LOST_AFTER_MS = 3000;
const SETTLE_MS = 5000;

/** A forked simulator and the messages it sent that nobody has taken yet. */
class Simulator {
  private readonly waiting: ((m: SimulatorMessage) => boolean)[] = [];
  private readonly inbox: SimulatorMessage[] = [];

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: SimulatorMessage) => {
      if (m.type === 'error') progress(`simulator ${child.pid} failed: ${m.message}`);
      const taker = this.waiting.findIndex((w) => w(m));
      if (taker >= 0) this.waiting.splice(taker, 1);
      else this.inbox.push(m);
    });
  }

  send(command: SimulatorCommand) {
    this.child.send(command);
  }

  /** The next message of `type` (one already received, or the next to arrive). */
  next<T extends SimulatorMessage['type']>(
    type: T,
  ): Promise<Extract<SimulatorMessage, { type: T }>> {
    const i = this.inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as never);
    return new Promise((resolve, reject) => {
      this.waiting.push((m) => {
        if (m.type === 'error') reject(new Error(m.message));
        else if (m.type !== type) return false;
        else resolve(m as never);
        return true;
      });
    });
  }
}

function forkSimulator(): Simulator {
  const child = fork(join(__dirname, 'scale-simulator.ts'), [], {
    execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Simulator(child);
}

/** One node ID per identity: FANOUT_PROCESSES on node 0, the rest round-robin over the others. */
function planIdentities(nodes: string[]): string[] {
  const rest = nodes.length > 1 ? nodes.slice(1) : nodes;
  return Array.from({ length: PROCESSES }, (_, i) =>
    i < FANOUT_PROCESSES ? nodes[0] : rest[(i - FANOUT_PROCESSES) % rest.length],
  );
}

async function main() {
  const started = Date.now();
  const ownNats = SHARED_NATS ? null : await OwnNatsServer.start();
  const natsUrl = ownNats?.url ?? BENCH_NATS_URL;
  const natsPid = ownNats ? ownNatsPid(ownNats) : null;
  const db = await createTestDatabase('plexus_bench_scale');
  const port = await freePort();
  progress(
    `${PROCESSES} processes over ${NODES} nodes in ${SIMULATORS} simulators; control plane on :${port}, NATS ${natsUrl}${natsPid ? ` (pid ${natsPid}, ours)` : ''}, database ${db.name}`,
  );
  const cp = await spawnControlPlane({
    DATABASE_URL: db.url,
    NATS_URL: natsUrl,
    PORT: port,
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
    LOST_AFTER_MS,
    nodeArgs: CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : [],
  });
  const cpPid = cp.child.pid!;
  const api = jsonClient(`http://127.0.0.1:${port}`, { authorization: `Bearer ${BENCH_TOKEN}` });
  const nc = await connect({ servers: natsUrl, name: 'bench-scale' });
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const simulators: Simulator[] = [];
  try {
    const tag = randomBytes(3).toString('hex');
    const nodes = Array.from({ length: NODES }, (_, j) => `s${tag}-${j}`);
    const fanoutNode = nodes[0];
    const identities = planIdentities(nodes);

    const lost = new Map<string, number>();
    const decoder = new TextDecoder();
    nc.subscribe(eventsFilter(undefined, 'ProcessLost'), {
      callback: (_err, msg) => {
        const event = JSON.parse(decoder.decode(msg.data));
        if (!lost.has(event.data.processId)) lost.set(event.data.processId, Date.now());
      },
    });
    /** Per version of the fanout node: each process's report receipt (reportedAt, ms). */
    const applied = new Map<number, Map<string, number>>();
    nc.subscribe(eventSubject(fanoutNode, 'ProcessConfigApplied'), {
      callback: (_err, msg) => {
        const { data } = JSON.parse(decoder.decode(msg.data));
        let byProcess = applied.get(data.version);
        if (!byProcess) applied.set(data.version, (byProcess = new Map()));
        byProcess.set(data.processId, Date.parse(data.reportedAt));
      },
    });
    await nc.flush();

    progress('forking simulators; seeding nodes and joining');
    const t0 = Date.now();
    for (let s = 0; s < SIMULATORS; s++) simulators.push(forkSimulator());
    simulators.forEach((sim, s) =>
      sim.send({
        type: 'start',
        index: s,
        natsUrl,
        identities: identities.filter((_, i) => i % SIMULATORS === s),
        seed: nodes.filter((_, j) => j % SIMULATORS === s),
      }),
    );
    await Promise.all(simulators.map((s) => s.next('seeded')));
    progress(`${NODES} nodes seeded in ${Date.now() - t0} ms`);
    await Promise.all(simulators.map((s) => s.next('joined')));
    progress(`${PROCESSES} joins announced after ${Date.now() - t0} ms`);
    const upBy = Date.now() + 600_000;
    for (let up = 0; up < PROCESSES;) {
      const res = await api('GET', '/processes?status=up');
      up = res.status === 200 ? JSON.parse(res.body).length : 0;
      if (Date.now() > upBy) throw new Error(`only ${up} of ${PROCESSES} recorded up`);
      if (up < PROCESSES) await sleep(2000);
    }
    const joinSeconds = (Date.now() - t0) / 1000;
    progress(`all ${PROCESSES} up after ${round(joinSeconds, 1)} s`);

    simulators.forEach((sim, s) =>
      sim.send({
        type: 'churn',
        // The whole fleet's rate, split into whole numbers per simulator.
        perSec: Math.floor(CHURN_PER_SEC / SIMULATORS) + (s < CHURN_PER_SEC % SIMULATORS ? 1 : 0),
        exceptNodes: [fanoutNode],
      }),
    );
    await sleep(SETTLE_MS);

    progress(`steady window: ${DURATION_S} s at full membership, churn ${CHURN_PER_SEC}/s`);
    progress(`window starts at ${Date.now()} (epoch ms)`);
    const before = await sample(simulators, pg, db.name, cpPid, natsPid);
    await sleep(DURATION_S * 1000);
    const after = await sample(simulators, pg, db.name, cpPid, natsPid);
    progress(`window ends at ${Date.now()} (epoch ms)`);
    const wallMs = after.wall - before.wall;
    const perSec = (a: number, b: number) => round(((b - a) * 1000) / wallMs, 1);
    const percent = (a: number | null, b: number | null) =>
      a === null || b === null ? null : round(((b - a) / wallMs) * 100, 1);
    const eventsInWindow = await countEvents(pg, before.at, after.at);
    const steady = {
      controlPlaneCpuPercent: percent(before.cpCpu, after.cpCpu),
      natsCpuPercent: percent(before.natsCpu, after.natsCpu),
      simulatorsCpuPercent: percent(before.simCpu, after.simCpu),
      controlPlaneRssMb: round(rssMb(cpPid), 0),
      heartbeatsPerSec: perSec(before.heartbeats, after.heartbeats),
      postgresTransactionsPerSec: perSec(before.commits, after.commits),
      postgresRowsWrittenPerSec: perSec(before.rowsWritten, after.rowsWritten),
      eventsAppendedPerSec: round((eventsInWindow * 1000) / wallMs, 1),
      churnJoinsPerSec: perSec(before.joined, after.joined),
      churnLeavesPerSec: perSec(before.left, after.left),
      steadySeconds: round(wallMs / 1000, 1),
    };
    progress(`steady: ${JSON.stringify(steady)}`);

    const fanout = await measureFanout(api, fanoutNode, applied);

    progress(`killing ${KILLS} identities silently`);
    const perSim = Math.ceil(KILLS / SIMULATORS);
    const killed: StoppedIdentity[] = [];
    for (const sim of simulators) {
      const want = Math.min(perSim, KILLS - killed.length);
      if (want <= 0) break;
      sim.send({ type: 'kill', count: want, exceptNodes: [fanoutNode] });
      killed.push(...(await sim.next('killed')).killed);
    }
    const detectBy = Date.now() + LOST_AFTER_MS + 30_000;
    while (killed.some((k) => !lost.has(k.processId)) && Date.now() < detectBy) await sleep(100);
    await sleep(LOST_AFTER_MS * 2); // a false ProcessLost would show up within this window too
    for (const sim of simulators) sim.send({ type: 'churn', perSec: 0, exceptNodes: [] });
    const stats = await Promise.all(simulators.map((s) => statsOf(s)));

    const detections = killed
      .filter((k) => lost.has(k.processId))
      .map((k) => lost.get(k.processId)! - k.lastBeatAt)
      .sort((a, b) => a - b);
    const stopped = new Map(stats.flatMap((s) => s.stopped).map((s) => [s.processId, s]));
    let falseLost = 0;
    let lostAfterLeaving = 0;
    for (const [processId, at] of lost) {
      const s = stopped.get(processId);
      if (!s || s.stoppedAt > at) falseLost++;
      else if (s.how === 'left') lostAfterLeaving++;
    }
    const result = {
      processes: PROCESSES,
      nodes: NODES,
      simulators: SIMULATORS,
      ...steady,
      lostAfterMs: LOST_AFTER_MS,
      killed: killed.length,
      detected: detections.length,
      detectP50Ms: round(percentile(detections, 50), 0),
      detectP99Ms: round(percentile(detections, 99), 0),
      detectMaxMs: round(detections[detections.length - 1] ?? NaN, 0),
      falseLost,
      lostAfterLeaving,
      ...fanout,
      joinAllSeconds: round(joinSeconds, 1),
      ownNatsServer: !SHARED_NATS,
      totalSeconds: round((Date.now() - started) / 1000, 0),
    };
    console.log(JSON.stringify(result));
  } finally {
    for (const sim of simulators) sim.send({ type: 'exit' });
    await sleep(500);
    for (const sim of simulators) if (sim.child.exitCode === null) sim.child.kill('SIGKILL');
    await nc.drain().catch(() => undefined);
    await pg.end().catch(() => undefined);
    await stopProcess(cp);
    await (ownNats ? db.drop() : dropBenchDatabase(db)).catch(() => undefined);
    await ownNats?.dispose();
  }
}

/** The pid of the bench's own nats-server (OwnNatsServer keeps its child private). */
function ownNatsPid(server: OwnNatsServer): number {
  return (server as unknown as { child: ChildProcess }).child.pid!;
}

async function statsOf(sim: Simulator): Promise<SimulatorStats> {
  sim.send({ type: 'stats' });
  return sim.next('stats');
}

async function sample(
  simulators: Simulator[],
  pg: Client,
  dbName: string,
  cpPid: number,
  natsPid: number | null,
) {
  const stats = await Promise.all(simulators.map((s) => statsOf(s)));
  const [row] = (
    await pg.query(
      `SELECT xact_commit, -- reads included
              tup_inserted + tup_updated + tup_deleted AS written, now() AS at
       FROM pg_stat_database WHERE datname = $1`,
      [dbName],
    )
  ).rows;
  return {
    wall: performance.now(),
    at: row.at as Date,
    cpCpu: cpuMs(cpPid),
    natsCpu: natsPid === null ? null : cpuMs(natsPid),
    simCpu: simulators.reduce((sum, s) => sum + cpuMs(s.child.pid!), 0),
    heartbeats: stats.reduce((sum, s) => sum + s.heartbeatsSent, 0),
    joined: stats.reduce((sum, s) => sum + s.joined, 0),
    left: stats.reduce((sum, s) => sum + s.left, 0),
    commits: Number(row.xact_commit),
    rowsWritten: Number(row.written),
  };
}

async function countEvents(pg: Client, from: Date, to: Date): Promise<number> {
  const { rows } = await pg.query(
    'SELECT count(*)::int AS n FROM events WHERE recorded_at >= $1 AND recorded_at < $2',
    [from, to],
  );
  return rows[0].n;
}

/**
 * Config changes to the fanout node, one at a time: each process's report receipt after the
 * write's acknowledgement, and the control plane's own rollout figure.
 */
async function measureFanout(
  api: ReturnType<typeof jsonClient>,
  nodeId: string,
  applied: Map<number, Map<string, number>>,
) {
  const latencies: number[] = [];
  const converge: number[] = [];
  let incomplete = 0;
  for (let round_ = 1; round_ <= FANOUT_ROUNDS; round_++) {
    const res = await api('PATCH', `/nodes/${nodeId}/modules/web/config`, {
      message: `round ${round_}`,
    });
    const ackAt = Date.now();
    if (res.status !== 200) throw new Error(`PATCH: ${res.status} ${res.body}`);
    const version = JSON.parse(res.body).version as number;
    const by = Date.now() + 60_000;
    let rollout: { converged: boolean; lastChange: { convergeMs: number | null } } | null = null;
    for (;;) {
      const r = await api('GET', `/nodes/${nodeId}/rollout`);
      rollout = r.status === 200 ? JSON.parse(r.body) : null;
      const recorded = applied.get(version)?.size ?? 0;
      if (rollout?.converged && recorded >= FANOUT_PROCESSES) break;
      if (Date.now() > by) {
        incomplete++;
        break;
      }
      await sleep(250);
    }
    const times = [...(applied.get(version)?.values() ?? [])].map((t) => t - ackAt);
    latencies.push(...times);
    if (rollout?.lastChange.convergeMs != null) converge.push(rollout.lastChange.convergeMs);
    progress(
      `fanout round ${round_}: v${version}, ${times.length} reports recorded, p99 ${round(
        percentile(
          [...times].sort((a, b) => a - b),
          99,
        ),
        0,
      )} ms, rollout convergeMs ${rollout?.lastChange.convergeMs}`,
    );
    await sleep(2000);
  }
  latencies.sort((a, b) => a - b);
  converge.sort((a, b) => a - b);
  return {
    fanoutProcesses: FANOUT_PROCESSES,
    fanoutRounds: FANOUT_ROUNDS,
    [`fanoutP50Ms${FANOUT_PROCESSES}`]: round(percentile(latencies, 50), 0),
    [`fanoutP99Ms${FANOUT_PROCESSES}`]: round(percentile(latencies, 99), 0),
    fanoutConvergeMsMax: converge.length ? converge[converge.length - 1] : null,
    fanoutIncompleteRounds: incomplete,
  };
}

main().catch((err) => {
  process.stderr.write(`bench:scale failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
