/**
 * bench:sessions — what a session check costs an http-endpoint, and how fast a revoke (logout)
 * on one process is seen by the others.
 *
 * Starts the built control plane on a fresh database (shared Postgres and NATS) and three built
 * workers of one node (port offsets 0, 1, 2) running `security` (local-security), `web`
 * (http-endpoint requiring it) and `open` (http-endpoint without a requirement).
 *
 * Throughput: GET / on process 0's `open` endpoint (no session check) and on its `web` endpoint
 * (Bearer token, session check) from the same load generator in this process: CONCURRENCY
 * closed-loop keep-alive clients (bench/support's node:http client). The 2 cores are shared with
 * whatever else runs on the host, and throughput drifts by 2x within a minute, so the variants
 * are interleaved finely: BLOCKS blocks of four SLICE_MS slices, ABBA then BAAB, after a warm-up.
 * Each variant's req/s is its requests over its time summed over all its slices, and
 * sessionOverheadPercent = 1 - with / without; the per-block overheads show the spread. As a
 * load-independent check, the main-thread CPU that process 0 spends per request is compared too
 * (/proc/PID/schedstat, ns): sessionCpuOverheadPercent.
 *
 * Revoke: for each sample, log in on one process, use the session on all three (so each has it
 * cached), then POST /logout on another and take process.hrtime.bigint() when its 204 arrives
 * ("revoke answered"). Every process reports, on core NATS, the hrtime at which its cache dropped
 * the session (sessionDroppedSubject; the machine-wide monotonic clock). revokeP50Ms/P99Ms are
 * (drop − answered) over the two processes that did not serve the logout; values stay signed
 * (a process may drop it before the 204 reaches this process). Every POLL_EVERY-th sample is
 * instead timed by polling GET / on the two others until they answer 401 (revokePolled*), kept
 * apart since polling loads the cores the workers run on.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { connect } from 'nats';
import { AppliedReport, appliedSubject, SESSIONS_DROPPED_ALL } from '@plexus/bus';
import { hashPassword, SessionDroppedReport } from '@plexus/module-runtime';
import { sessionIdOf } from '@plexus/sessions';
import { createTestDatabase } from '../test/support/databases';
import { freePort } from '../test/support/ports';
import {
  SpawnedProcess,
  spawnControlPlane,
  spawnWorker,
  stopProcess,
} from '../test/support/processes';
import {
  BENCH_NATS,
  BENCH_NATS_URL,
  BENCH_TOKEN,
  closedLoop,
  dropBenchDatabase,
  jsonClient,
  percentile,
  progress,
  round,
} from './support';
import { sleep } from '@plexus/common';

const PROCESSES = 3;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 500);
const BLOCKS = Number(process.env.BENCH_BLOCKS ?? 16);
const WARMUP_SECONDS = 2;
const REVOKES = Number(process.env.BENCH_REVOKES ?? 200);
const POLL_EVERY = Number(process.env.BENCH_POLL_EVERY ?? 4);
const REPORT_TIMEOUT_MS = 5000;
const WORKER_LOG_LEVEL = process.env.BENCH_WORKER_LOG_LEVEL ?? 'warn';
const USER = 'bench';
const PASSWORD = randomBytes(12).toString('base64url');

const nsToMs = (ns: bigint) => Number(ns) / 1e6;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * CPU time a process's main thread (where Node runs JavaScript and the HTTP parser) has used so
 * far, in ns: the first field of /proc/PID/schedstat, which unlike /proc/PID/stat is not rounded
 * to 10 ms clock ticks.
 */
function mainThreadCpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port B (below the ephemeral range) with B..B+2 and B+10..B+12 free. */
async function portBase(): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = [0, 1, 2, 10, 11, 12].map((o) => base + o);
    if ((await Promise.all(ports.map(portIsFree))).every(Boolean)) return base;
  }
}

async function main() {
  const db = await createTestDatabase('plexus_bench_sessions');
  const cpPort = await freePort();
  progress(
    `starting the control plane on :${cpPort} with database ${db.name}, NATS ${BENCH_NATS_URL}`,
  );
  const cp = await spawnControlPlane({
    DATABASE_URL: db.url,
    NATS_URL: BENCH_NATS_URL,
    PORT: cpPort,
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
  });
  const admin = jsonClient(cp.url, { authorization: `Bearer ${BENCH_TOKEN}` });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await admin(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status} ${res.body}`);
    return JSON.parse(res.body);
  };
  const nc = await connect({ ...BENCH_NATS, name: 'bench-sessions' });
  const nodeId = `sess-${randomBytes(4).toString('hex')}`;
  let workers: SpawnedProcess[] = [];
  const result: Record<string, unknown> = {};

  // Reports: applied versions, and session drops by session ID and process.
  const applied = new Map<number, Set<string>>();
  nc.subscribe(appliedSubject(nodeId, '*'), {
    callback: (_err, msg) => {
      if (!msg) return;
      const r = msg.json<AppliedReport>();
      if (!r.ok) return;
      applied.set(r.version, (applied.get(r.version) ?? new Set()).add(r.processId));
    },
  });
  const drops = new Map<string, Map<string, bigint>>();
  const dropWaiters = new Map<string, () => void>();
  nc.subscribe(SESSIONS_DROPPED_ALL, {
    callback: (_err, msg) => {
      if (!msg) return;
      const r = msg.json<SessionDroppedReport>();
      if (r.nodeId !== nodeId) return;
      const byProcess = drops.get(r.sessionId) ?? new Map<string, bigint>();
      byProcess.set(r.processId, BigInt(r.hrtimeNs));
      drops.set(r.sessionId, byProcess);
      if (byProcess.size >= PROCESSES) dropWaiters.get(r.sessionId)?.();
    },
  });
  const allDropped = (sessionId: string) =>
    new Promise<boolean>((resolve) => {
      if ((drops.get(sessionId)?.size ?? 0) >= PROCESSES) return resolve(true);
      const timer = setTimeout(() => {
        dropWaiters.delete(sessionId);
        resolve(false);
      }, REPORT_TIMEOUT_MS);
      dropWaiters.set(sessionId, () => {
        clearTimeout(timer);
        dropWaiters.delete(sessionId);
        resolve(true);
      });
    });

  try {
    const base = await portBase();
    const users = `${USER}:${await hashPassword(PASSWORD)}`;
    await call('PUT', `/nodes/${nodeId}`, { properties: {} });
    await call('PUT', `/nodes/${nodeId}/modules/security`, {
      type: 'local-security',
      config: { users, 'sessions.timeout.mins': '30' },
    });
    await call('PUT', `/nodes/${nodeId}/modules/web`, {
      type: 'http-endpoint',
      config: { port: String(base) },
      requires: { SECURITY_IN_UP: 'security' },
    });
    const last = await call('PUT', `/nodes/${nodeId}/modules/open`, {
      type: 'http-endpoint',
      config: { port: String(base + 10) },
    });
    progress(
      `starting ${PROCESSES} workers of ${nodeId}: web on ${base}.., open on ${base + 10}..`,
    );
    workers = Array.from({ length: PROCESSES }, (_, i) =>
      spawnWorker({ nodeId, portOffset: i, natsUrl: BENCH_NATS_URL, logLevel: WORKER_LOG_LEVEL }),
    );
    const deadline = Date.now() + 90_000;
    while ((applied.get(last.version)?.size ?? 0) < PROCESSES) {
      const dead = workers.find((w) => w.child.exitCode !== null);
      if (dead) throw new Error(`a worker exited: ${dead.output().slice(-2000)}`);
      if (Date.now() > deadline) throw new Error('the workers did not apply the node in time');
      await sleep(50);
    }

    const web = workers.map((_, i) => jsonClient(`http://127.0.0.1:${base + i}`, {}));
    const open = jsonClient(`http://127.0.0.1:${base + 10}`, {});
    const login = async (i: number) => {
      const res = await web[i]('POST', '/login', { username: USER, password: PASSWORD });
      if (res.status !== 200) throw new Error(`login on ${i} -> ${res.status} ${res.body}`);
      return (JSON.parse(res.body) as { token: string }).token;
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    // --- throughput ---
    const token = await login(0);
    const withSession = jsonClient(`http://127.0.0.1:${base}`, bearer(token));
    const get = (client: typeof open) => async () => {
      const res = await client('GET', '/');
      if (res.status !== 200) throw new Error(`GET / -> ${res.status} ${res.body}`);
    };
    const variants = { without: get(open), with: get(withSession) };
    progress(`warm-up: ${WARMUP_SECONDS} s each`);
    await closedLoop(CONCURRENCY, WARMUP_SECONDS, variants.without);
    await closedLoop(CONCURRENCY, WARMUP_SECONDS, variants.with);
    type Variant = 'with' | 'without';
    interface Slice {
      variant: Variant;
      count: number;
      seconds: number;
      cpuNs: number;
    }
    const slices: Slice[] = [];
    const lat: Record<Variant, number[]> = { with: [], without: [] };
    let errors = 0;
    const pid = workers[0].child.pid!;
    progress(
      `throughput: ${BLOCKS} blocks of 4 slices of ${SLICE_MS} ms (without, with, with, without, ...)`,
    );
    for (let block = 0; block < BLOCKS; block++) {
      const order: Variant[] =
        block % 2 === 0
          ? ['without', 'with', 'with', 'without']
          : ['with', 'without', 'without', 'with'];
      for (const variant of order) {
        const cpuBefore = mainThreadCpuNs(pid);
        const started = performance.now();
        const run = await closedLoop(CONCURRENCY, SLICE_MS / 1000, variants[variant]);
        slices.push({
          variant,
          count: run.count,
          seconds: (performance.now() - started) / 1000,
          cpuNs: mainThreadCpuNs(pid) - cpuBefore,
        });
        for (const l of run.latencies) lat[variant].push(l);
        errors += run.errors;
      }
      if ((block + 1) % 4 === 0) progress(`${block + 1} blocks`);
    }
    const total = (v: Variant, from = slices) => {
      const s = from.filter((x) => x.variant === v);
      return {
        perSec: s.reduce((a, x) => a + x.count, 0) / s.reduce((a, x) => a + x.seconds, 0),
        cpuUsPerRequest:
          s.reduce((a, x) => a + x.cpuNs, 0) / 1000 / s.reduce((a, x) => a + x.count, 0),
      };
    };
    const withS = total('with');
    const without = total('without');
    const blockOverheads = Array.from({ length: BLOCKS }, (_, b) => {
      const block = slices.slice(b * 4, b * 4 + 4);
      return (1 - total('with', block).perSec / total('without', block).perSec) * 100;
    });
    lat.with.sort((a, b) => a - b);
    lat.without.sort((a, b) => a - b);
    Object.assign(result, {
      reqPerSecWithSession: round(withS.perSec, 0),
      reqPerSecWithout: round(without.perSec, 0),
      sessionOverheadPercent: round((1 - withS.perSec / without.perSec) * 100, 2),
      sessionOverheadBlockMedianPercent: round(median(blockOverheads), 2),
      sessionOverheadBlockMinPercent: round(Math.min(...blockOverheads), 2),
      sessionOverheadBlockMaxPercent: round(Math.max(...blockOverheads), 2),
      workerCpuUsPerRequestWithSession: round(withS.cpuUsPerRequest, 2),
      workerCpuUsPerRequestWithout: round(without.cpuUsPerRequest, 2),
      sessionCpuOverheadPercent: round(
        (withS.cpuUsPerRequest / without.cpuUsPerRequest - 1) * 100,
        2,
      ),
      latencyWithSessionP50Ms: round(percentile(lat.with, 50), 3),
      latencyWithSessionP99Ms: round(percentile(lat.with, 99), 3),
      latencyWithoutP50Ms: round(percentile(lat.without, 50), 3),
      latencyWithoutP99Ms: round(percentile(lat.without, 99), 3),
      throughputErrors: errors,
      concurrency: CONCURRENCY,
      sliceMs: SLICE_MS,
      slicesPerVariant: BLOCKS * 2,
    });
    progress(
      `throughput: ${result.reqPerSecWithout} req/s without, ${result.reqPerSecWithSession} with ` +
        `a session check (${result.sessionOverheadPercent} % overhead)`,
    );
    await web[0]('POST', '/logout', undefined, bearer(token));

    // --- revoke → refused on the other processes ---
    const processIds: string[] = [];
    {
      const t = await login(0);
      for (let i = 0; i < PROCESSES; i++)
        processIds.push(
          JSON.parse((await web[i]('GET', '/', undefined, bearer(t))).body).processId,
        );
      await web[0]('POST', '/logout', undefined, bearer(t));
    }
    const reported: number[] = [];
    const fromRequest: number[] = [];
    const polled: number[] = [];
    let missing = 0;
    progress(`${REVOKES} revokes (every ${POLL_EVERY}th timed by polling instead of by reports)`);
    for (let s = 0; s < REVOKES; s++) {
      const loginOn = s % PROCESSES;
      const revokeOn = (s + 1) % PROCESSES;
      const others = [0, 1, 2].filter((i) => i !== revokeOn);
      const t = await login(loginOn);
      for (let i = 0; i < PROCESSES; i++) {
        const res = await web[i]('GET', '/', undefined, bearer(t));
        if (res.status !== 200) throw new Error(`session not valid on ${i}: ${res.status}`);
      }
      const id = sessionIdOf(t);
      const poll = s % POLL_EVERY === POLL_EVERY - 1;
      const sentNs = process.hrtime.bigint();
      const res = await web[revokeOn]('POST', '/logout', undefined, bearer(t));
      const ackNs = process.hrtime.bigint();
      if (res.status !== 204) throw new Error(`logout -> ${res.status} ${res.body}`);
      if (poll) {
        const times = await Promise.all(
          others.map(async (i) => {
            for (;;) {
              const r = await web[i]('GET', '/', undefined, bearer(t));
              if (r.status === 401) return process.hrtime.bigint();
              if (process.hrtime.bigint() - ackNs > BigInt(REPORT_TIMEOUT_MS) * 1_000_000n)
                throw new Error(`process ${i} still accepts a revoked session`);
            }
          }),
        );
        for (const at of times) polled.push(nsToMs(at - ackNs));
      }
      if (!(await allDropped(id))) {
        missing++;
        progress(`sample ${s}: only ${drops.get(id)?.size ?? 0} drop reports`);
        continue;
      }
      if (!poll) {
        const byProcess = drops.get(id)!;
        for (const i of others) {
          const at = byProcess.get(processIds[i]);
          if (at === undefined) continue;
          reported.push(nsToMs(at - ackNs));
          fromRequest.push(nsToMs(at - sentNs));
        }
      }
      drops.delete(id);
      if ((s + 1) % 50 === 0) progress(`${s + 1} revokes`);
    }
    reported.sort((a, b) => a - b);
    fromRequest.sort((a, b) => a - b);
    polled.sort((a, b) => a - b);
    Object.assign(result, {
      revokeP50Ms: round(percentile(reported, 50), 3),
      revokeP99Ms: round(percentile(reported, 99), 3),
      revokeMaxMs: round(reported[reported.length - 1], 3),
      revokeMinMs: round(reported[0], 3),
      revokeFromRequestP50Ms: round(percentile(fromRequest, 50), 3),
      revokeFromRequestP99Ms: round(percentile(fromRequest, 99), 3),
      revokePolledP50Ms: round(percentile(polled, 50), 3),
      revokePolledP99Ms: round(percentile(polled, 99), 3),
      revokeSamples: reported.length,
      revokePolledSamples: polled.length,
      revokeMissingReports: missing,
      revokeTiming:
        "report-based: each process's own hrtime when its cache dropped the session, minus the hrtime the logout's 204 arrived (signed); polled: first 401 on GET / minus the same",
    });
    progress(
      `revoke → dropped on the other processes: p50 ${result.revokeP50Ms} ms, p99 ` +
        `${result.revokeP99Ms} ms; polled first 401 p99 ${result.revokePolledP99Ms} ms`,
    );

    progress('stopping the workers');
    const codes = await Promise.all(workers.map((w) => stopProcess(w)));
    if (codes.some((c) => c !== 0)) progress(`worker exit codes: ${codes.join(',')}`);
    workers = [];
    console.log(JSON.stringify(result));
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w)));
    await stopProcess(cp);
    await nc.close();
    await dropBenchDatabase(db);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
