/**
 * bench:membership — the control plane's membership load with 1,000 processes heartbeating at
 * 1 Hz (issue 5): its CPU, how long it takes to detect a lost process, and false ProcessLost.
 *
 * Starts the built control plane (its own process, default LOST_AFTER_MS 3000) on a fresh
 * database and simulates PROCESSES processes of one node in this process, on one NATS
 * connection: each announces that it joined (the membership stream, as a worker does) and then
 * publishes a worker-shaped heartbeat every second, at its own phase within the second.
 *
 * 1. Steady state: once all are recorded `up`, the control plane's CPU time is read from /proc
 *    over STEADY_SECONDS: cpuPercentOfCore = CPU ms / wall ms × 100.
 * 2. Failures: KILLS simulated processes stop heartbeating, one every KILL_EVERY_MS. A core NATS
 *    subscriber on the events stream's ProcessLost subject sees each ProcessLost as the relay
 *    publishes it; detection time = that moment − the lost process's last heartbeat (so it
 *    includes LOST_AFTER_MS itself: the floor is lostAfterMs).
 * 3. falseLost counts ProcessLost events for processes that never stopped heartbeating, over
 *    the whole run.
 * The machine is kept busy throughout: CPU_HOGS processes (default 2, one per core here) spin,
 * so a control plane that misses heartbeats under load would show false ProcessLost.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, NatsConnection } from 'nats';
import { announceMembership, eventSubject, Heartbeat, publishHeartbeat } from '@plexus/bus';
import { createTestDatabase } from '../test/support/databases';
import { freePort } from '../test/support/ports';
import { spawnControlPlane, stopProcess } from '../test/support/processes';
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
} from './support';
import { sleep } from '@plexus/common';

const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 1000);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 20);
const KILLS = Number(process.env.BENCH_KILLS ?? 50);
const KILL_EVERY_MS = Number(process.env.BENCH_KILL_EVERY_MS ?? 137);
const LOST_AFTER_MS = Number(process.env.BENCH_LOST_AFTER_MS ?? 3000);
const CPU_HOGS = Number(process.env.BENCH_CPU_HOGS ?? 2);
const HEARTBEAT_MS = 1000;
const TICK_MS = 10;

interface SimulatedProcess {
  processId: string;
  phaseMs: number;
  lastBeatAt: number;
  stoppedAt: number | null;
}

/** Publishes every simulated process's heartbeat once a second, spread over the second. */
class HeartbeatSimulator {
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();
  private lastTick = Date.now();

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodeId: string,
    readonly processes: SimulatedProcess[],
  ) {}

  heartbeat(p: SimulatedProcess): Heartbeat {
    return {
      processId: p.processId,
      nodeId: this.nodeId,
      host: hostname(),
      pid: process.pid,
      portOffset: 0,
      appliedVersion: 1,
      modules: { web: { state: 'running', version: 1, details: { port: 8000, requests: 0 } } },
      at: new Date().toISOString(),
    };
  }

  start() {
    this.timer = setInterval(() => {
      const now = Date.now();
      // Every process whose phase fell in (lastTick, now] within the second beats now.
      for (const p of this.processes) {
        if (p.stoppedAt !== null) continue;
        const due = Math.floor((now - this.startedAt - p.phaseMs) / HEARTBEAT_MS);
        const before = Math.floor((this.lastTick - this.startedAt - p.phaseMs) / HEARTBEAT_MS);
        if (due > before) {
          publishHeartbeat(this.nc, this.heartbeat(p));
          p.lastBeatAt = now;
        }
      }
      this.lastTick = now;
    }, TICK_MS);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
  }
}

async function main() {
  const db = await createTestDatabase('plexus_bench_membership');
  const port = await freePort();
  progress(`control plane on :${port}, database ${db.name}, ${PROCESSES} simulated processes`);
  const cp = await spawnControlPlane({
    DATABASE_URL: db.url,
    NATS_URL: BENCH_NATS_URL,
    PORT: port,
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
    LOST_AFTER_MS,
  });
  const api = jsonClient(`http://127.0.0.1:${port}`, { authorization: `Bearer ${BENCH_TOKEN}` });
  const nc = await connect({ ...BENCH_NATS, name: 'bench-membership' });
  const nodeId = `bench-mem-${randomBytes(3).toString('hex')}`;
  let simulator: HeartbeatSimulator | null = null;
  const hogs: ChildProcess[] = Array.from({ length: CPU_HOGS }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  try {
    const created = await api('PUT', `/nodes/${nodeId}`, { properties: {} });
    if (created.status >= 300) throw new Error(`PUT node: ${created.status} ${created.body}`);

    const processes: SimulatedProcess[] = Array.from({ length: PROCESSES }, (_, i) => ({
      processId: `sim-${nodeId}-${i}`,
      phaseMs: Math.floor((i * HEARTBEAT_MS) / PROCESSES),
      lastBeatAt: 0,
      stoppedAt: null,
    }));
    const lost = new Map<string, number>();
    const decoder = new TextDecoder();
    nc.subscribe(eventSubject(nodeId, 'ProcessLost'), {
      callback: (_err, msg) => {
        const event = JSON.parse(decoder.decode(msg.data));
        if (!lost.has(event.data.processId)) lost.set(event.data.processId, Date.now());
      },
    });

    simulator = new HeartbeatSimulator(nc, nodeId, processes);
    simulator.start();
    progress('announcing joins');
    for (let i = 0; i < processes.length; i += 100) {
      await Promise.all(
        processes.slice(i, i + 100).map((p) =>
          announceMembership(nc, {
            processId: p.processId,
            nodeId,
            host: hostname(),
            pid: process.pid,
            portOffset: 0,
            what: 'joined',
            at: new Date().toISOString(),
          }),
        ),
      );
    }
    const joinedBy = Date.now() + 120_000;
    for (;;) {
      const res = await api('GET', `/processes?nodeId=${nodeId}&status=up`);
      const up = res.status === 200 ? JSON.parse(res.body).length : 0;
      if (up === PROCESSES) break;
      if (Date.now() > joinedBy) throw new Error(`only ${up} of ${PROCESSES} recorded up`);
      await sleep(500);
    }
    progress(`all ${PROCESSES} up; steady state for ${STEADY_SECONDS} s`);
    await sleep(2000);

    const pid = cp.child.pid!;
    const cpu0 = cpuMs(pid);
    const wall0 = performance.now();
    await sleep(STEADY_SECONDS * 1000);
    const steadyCpuMs = cpuMs(pid) - cpu0;
    const steadyWallMs = performance.now() - wall0;

    progress(`stopping ${KILLS} processes' heartbeats, one every ${KILL_EVERY_MS} ms`);
    const victims = processes.filter((_, i) => i % Math.floor(PROCESSES / KILLS) === 0);
    const killed = victims.slice(0, KILLS);
    for (const v of killed) {
      v.stoppedAt = Date.now();
      await sleep(KILL_EVERY_MS);
    }
    const detectBy = Date.now() + LOST_AFTER_MS + 15_000;
    while (killed.some((k) => !lost.has(k.processId)) && Date.now() < detectBy) await sleep(100);
    await sleep(LOST_AFTER_MS); // a false ProcessLost would show up within this window too

    const killedIds = new Set(killed.map((k) => k.processId));
    const detections = killed
      .filter((k) => lost.has(k.processId))
      .map((k) => lost.get(k.processId)! - k.lastBeatAt)
      .sort((a, b) => a - b);
    const falseLost = [...lost.keys()].filter((id) => !killedIds.has(id)).length;
    const result = {
      processes: PROCESSES,
      heartbeatsPerSec: PROCESSES,
      cpuHogs: CPU_HOGS,
      cpuPercentOfCore: round((steadyCpuMs / steadyWallMs) * 100, 1),
      steadySeconds: STEADY_SECONDS,
      lostAfterMs: LOST_AFTER_MS,
      killed: killed.length,
      detected: detections.length,
      detectP50Ms: round(percentile(detections, 50), 0),
      detectP99Ms: round(percentile(detections, 99), 0),
      detectMaxMs: round(detections[detections.length - 1] ?? NaN, 0),
      falseLost,
    };
    console.log(JSON.stringify(result));
  } finally {
    simulator?.stop();
    for (const hog of hogs) hog.kill('SIGKILL');
    await nc.drain().catch(() => undefined);
    await stopProcess(cp);
    await dropBenchDatabase(db);
  }
}

main().catch((err) => {
  process.stderr.write(`bench:membership failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
