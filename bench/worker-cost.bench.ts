/**
 * bench:worker-cost — what one worker process costs: CPU time per applied config change, and
 * resident memory when idle. Unlike bench:propagation it measures no latency, so it can compare
 * two versions of the worker on a loaded machine: CPU time (utime + stime from /proc, in 10 ms
 * ticks) hardly depends on what else runs, while wall-clock time does.
 *
 * Starts the built control plane on a fresh database (shared Postgres and NATS) and ONE built
 * worker of one node running one http-endpoint module. After WARMUP changes it PATCHes the
 * module's `message` CHANGES times, one at a time: the next change is sent only once the worker
 * reported the previous version applied (its applied report on core NATS). The worker's CPU over
 * those changes, divided by their count, is workerCpuMsPerChange. The worker also spends CPU on
 * its timers (1 s heartbeats, health checks, the 5 s safety-net read) whether or not anything
 * changes: that rate is measured while idle (IDLE_CPU_MS, after the warm-up) and given as workerIdleCpuMsPerSec
 * (the control plane's, with this one worker's heartbeats, as controlPlaneIdleCpuMsPerSec), and
 * workerCpuMsPerChangeNetOfIdle subtracts it (rate × the changes' wall time) from the figure. The
 * idle rate varies from 1 to 8 ms/s between runs (a collection V8 runs once the allocation rate
 * drops falls in the idle window or not): compare versions on workerCpuMsPerChange.
 *
 * Beside the worker runs bench/kv-watch-floor.js, a bare nats.js process watching the same key
 * and publishing a report 30 ms after each change, measured over the same window:
 * floorCpuMsPerChange is what any worker on nats.js spends per change on this host, under the
 * same load. On this 2-vCPU VM, where waking a process costs more than the JavaScript it runs,
 * it is most of the worker's figure; workerCpuMsOverFloor is the worker's own share, and moves
 * less with the host's load than either (BENCH_FLOOR=0 leaves the floor process out).
 *
 * Env: BENCH_CHANGES (500), BENCH_WORKER_LOG_LEVEL (warn, as bench:propagation),
 * BENCH_WORKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": flags of the worker's node,
 * for profiling; the changes' window is printed on the monotonic clock of the profile's samples),
 * BENCH_WORKER_OUTPUT (a file the worker's output is written to), BENCH_FLOOR (1; 0: no floor).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { connect } from 'nats';
import { APPLIED_ALL, AppliedReport, nodeDocumentKey, NODES_BUCKET } from '@plexus/bus';
import { sleep } from '@plexus/common';
import { createTestDatabase } from '../test/support/databases';
import { freePort } from '../test/support/ports';
import {
  ROOT,
  spawnControlPlane,
  spawnNode,
  spawnWorker,
  stopProcess,
} from '../test/support/processes';
import {
  BENCH_NATS_URL,
  BENCH_TOKEN,
  cpuMs,
  dropBenchDatabase,
  jsonClient,
  progress,
  round,
  rssMb,
} from './support';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 500);
const WARMUP = 20;
const IDLE_MS = 5000;
const IDLE_CPU_MS = 10_000;
const REPORT_TIMEOUT_MS = 15_000;
const WORKER_LOG_LEVEL = process.env.BENCH_WORKER_LOG_LEVEL ?? 'warn';
const WORKER_NODE_ARGS = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
const FLOOR = process.env.BENCH_FLOOR !== '0';

async function main() {
  const db = await createTestDatabase('plexus_bench_wcost');
  const cpPort = await freePort();
  const modulePort = await freePort();
  progress(`control plane on :${cpPort}, database ${db.name}, NATS ${BENCH_NATS_URL}`);
  const cp = await spawnControlPlane({
    DATABASE_URL: db.url,
    NATS_URL: BENCH_NATS_URL,
    PORT: cpPort,
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
  });
  const request = jsonClient(cp.url, { authorization: `Bearer ${BENCH_TOKEN}` });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await request(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status} ${res.body}`);
    return JSON.parse(res.body) as { version: number };
  };
  const nodeId = `wcost-${randomBytes(4).toString('hex')}`;
  const nc = await connect({ servers: BENCH_NATS_URL, name: 'bench-worker-cost' });
  // The latest version the worker reported applied, and who waits for which.
  let applied = 0;
  let failed = 0;
  let waiter: { version: number; resolve: () => void } | null = null;
  nc.subscribe(APPLIED_ALL, {
    callback: (_err, msg) => {
      if (!msg) return;
      const r = msg.json<AppliedReport>();
      if (r.nodeId !== nodeId) return;
      if (!r.ok) failed++;
      applied = Math.max(applied, r.version);
      if (waiter && applied >= waiter.version) {
        waiter.resolve();
        waiter = null;
      }
    },
  });
  const appliedBy = async (version: number, timeoutMs = REPORT_TIMEOUT_MS) => {
    if (applied >= version) return;
    let timer: NodeJS.Timeout | undefined;
    const ok = await new Promise<boolean>((resolve) => {
      waiter = { version, resolve: () => resolve(true) };
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    clearTimeout(timer);
    if (!ok) throw new Error(`version ${version} not reported applied in ${timeoutMs} ms`);
  };

  let worker: ReturnType<typeof spawnWorker> | null = null;
  let floor: ReturnType<typeof spawnNode> | null = null;
  try {
    await call('PUT', `/nodes/${nodeId}`, { properties: {} });
    let { version } = await call('PUT', `/nodes/${nodeId}/modules/web`, {
      type: 'http-endpoint',
      config: { port: String(modulePort), message: 'start' },
    });
    progress(`starting one worker of ${nodeId} (module on :${modulePort})`);
    worker = spawnWorker({
      nodeId,
      natsUrl: BENCH_NATS_URL,
      logLevel: WORKER_LOG_LEVEL,
      nodeArgs: WORKER_NODE_ARGS,
    });
    const pid = worker.child.pid!;
    await appliedBy(version, 90_000).catch((err) => {
      throw new Error(`${(err as Error).message}; worker output: ${worker!.output().slice(-2000)}`);
    });

    const change = async (label: string) => {
      ({ version } = await call('PATCH', `/nodes/${nodeId}/modules/web/config`, {
        message: `${label}-${version + 1}`,
      }));
      await appliedBy(version);
    };

    if (FLOOR) {
      const args = [BENCH_NATS_URL, NODES_BUCKET, nodeDocumentKey(nodeId), `bench.floor.${nodeId}`];
      floor = spawnNode([join(ROOT, 'bench', 'kv-watch-floor.js'), ...args], process.env);
      const started = performance.now();
      while (!floor.output().includes('ready')) {
        if (floor.child.exitCode !== null || performance.now() - started > 30_000)
          throw new Error(`the floor process did not start: ${floor.output()}`);
        await sleep(50);
      }
    }
    const floorPid = floor?.child.pid;

    progress(`applied version ${version}; idle for ${IDLE_MS} ms`);
    await sleep(IDLE_MS);
    const idleRss = rssMb(pid);

    progress(`${WARMUP} warm-up changes`);
    for (let i = 0; i < WARMUP; i++) await change('warmup');
    // The idle rate once warm (start-up's compilation and collection are over).
    progress(`idle for ${IDLE_CPU_MS} ms`);
    const idleCpu0 = cpuMs(pid);
    const idleFloor0 = floorPid ? cpuMs(floorPid) : 0;
    const idleControlPlane0 = cpuMs(cp.child.pid!);
    const idleT0 = performance.now();
    await sleep(IDLE_CPU_MS);
    const idleSec = (performance.now() - idleT0) / 1000;
    const idleCpuMsPerSec = (cpuMs(pid) - idleCpu0) / idleSec;
    const floorIdleCpuMsPerSec = floorPid ? (cpuMs(floorPid) - idleFloor0) / idleSec : NaN;
    const controlPlaneIdleCpuMsPerSec = (cpuMs(cp.child.pid!) - idleControlPlane0) / idleSec;

    progress(`${CHANGES} changes, one at a time`);
    const cpu0 = cpuMs(pid);
    const floorCpu0 = floorPid ? cpuMs(floorPid) : 0;
    const t0 = performance.now();
    const usNow = () => process.hrtime.bigint() / 1000n; // the clock of a .cpuprofile's timestamps
    const windowStartUs = usNow();
    for (let i = 0; i < CHANGES; i++) {
      await change('c');
      if ((i + 1) % 100 === 0) progress(`${i + 1} changes`);
    }
    const elapsedMs = performance.now() - t0;
    progress(`changes ran from ${windowStartUs} to ${usNow()} µs (monotonic clock)`);
    const cpu = cpuMs(pid) - cpu0;
    const floorCpu = floorPid ? cpuMs(floorPid) - floorCpu0 : NaN;
    const afterRss = rssMb(pid);

    const result = {
      workerCpuMsPerChange: round(cpu / CHANGES, 3),
      workerCpuMsPerChangeNetOfIdle: round(
        (cpu - (idleCpuMsPerSec * elapsedMs) / 1000) / CHANGES,
        3,
      ),
      workerIdleCpuMsPerSec: round(idleCpuMsPerSec, 2),
      ...(floorPid
        ? {
            floorCpuMsPerChange: round(floorCpu / CHANGES, 3),
            workerCpuMsOverFloor: round((cpu - floorCpu) / CHANGES, 3),
            floorIdleCpuMsPerSec: round(floorIdleCpuMsPerSec, 2),
          }
        : {}),
      workerRssMb: round(afterRss, 1),
      workerIdleRssMb: round(idleRss, 1),
      controlPlaneIdleCpuMsPerSec: round(controlPlaneIdleCpuMsPerSec, 2),
      changes: CHANGES,
      failedApplies: failed,
      changesPerSec: round(CHANGES / (elapsedMs / 1000), 1),
      workerLogLevel: WORKER_LOG_LEVEL,
      loadAverage1m: round(loadavg()[0], 2),
    };
    progress(`stopping the worker`);
    const code = await stopProcess(worker);
    if (process.env.BENCH_WORKER_OUTPUT)
      writeFileSync(process.env.BENCH_WORKER_OUTPUT, worker.output());
    worker = null;
    if (code !== 0) progress(`worker exit code ${code}`);
    console.log(JSON.stringify(result));
  } finally {
    if (worker) await stopProcess(worker);
    if (floor) await stopProcess(floor);
    await stopProcess(cp);
    await nc.close();
    await dropBenchDatabase(db);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
