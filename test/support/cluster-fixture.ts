import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, ConnectionOptions, NatsConnection } from 'nats';
import { AdminApi, retryingAdminApi, TEST_ADMIN_TOKEN } from './control-plane';
import { createTestDatabase } from './databases';
import { OwnNatsServer } from './nats-server';
import { freePort, waitFor } from './ports';
import { spawnApp, spawnControlPlane, SpawnedProcess, spawnWorker, stopProcess } from './processes';

export type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;
export type SpawnedControlPlane = SpawnedProcess & { url: string };

export interface ControlPlaneOptions {
  /** LOST_AFTER_MS of the failure detector. */
  lostAfterMs?: number;
  /** SCALE_EVALUATE_MS of the autoscaler. */
  scaleEvaluateMs?: number;
  /** Default `warn`. */
  logLevel?: string;
  /** PLEXUS_ADMIN_TOKEN; `cluster.api` uses it. Default TEST_ADMIN_TOKEN. */
  adminToken?: string;
  /** Its NATS_URL when not the cluster's (e.g. with a user and password). */
  natsUrl?: string;
  /** Any other variables (WEBHOOK_RETRY_BASE_MS, ...). */
  env?: Record<string, string>;
}

export interface StartClusterOptions {
  /**
   * `own` (default): a nats-server of the cluster's own, so that no other suite's control plane
   * answers its requests and the test may stop it; `shared`: the suite's NATS_URL; `{ config }`:
   * an own server with that configuration (e.g. authorization); `{ url }`: servers the test runs
   * itself (e.g. an OwnNatsCluster's list), which the cluster neither starts nor stops.
   */
  nats?: 'own' | 'shared' | { config: string } | { url: string };
  /** Name prefix of the test database. */
  databasePrefix?: string;
  /** The control plane; `false` starts none (start replicas with `startControlPlane`). */
  controlPlane?: ControlPlaneOptions | false;
  /** Also connects a NATS client (`cluster.nc`) with these options. */
  natsClient?: Partial<ConnectionOptions>;
  /** How often `until` probes; default 50 ms. */
  pollMs?: number;
}

export type WorkerOptions = Parameters<typeof spawnWorker>[0] & {
  /**
   * `up` (default): resolves once GET /processes lists this process up; `running`: once it logs
   * that it runs; `spawned`: at once.
   */
  until?: 'up' | 'running' | 'spawned';
  /** How long to wait for `until`; default 30 s. */
  timeoutMs?: number;
};

/**
 * A cluster of an end-to-end test: its own database, (usually) its own NATS, a built control plane
 * as an OS process, and the worker and supervisor processes the test starts. `stop()` ends every
 * process it started and removes what it created.
 */
export interface Cluster {
  readonly db: TestDatabase;
  /** The cluster's own nats-server (undefined on the shared one). */
  readonly nats: OwnNatsServer | undefined;
  readonly natsUrl: string;
  /** A NATS client, when `natsClient` was given. */
  readonly nc: NatsConnection;
  /** A temporary directory for properties files; removed by `stop()`. */
  readonly dir: string;
  /** The (latest) control plane. */
  readonly controlPlane: SpawnedControlPlane;
  /** The admin API of `controlPlane`, retrying 503s. */
  readonly api: AdminApi;
  /** Every worker started with `startWorker`, in order. */
  readonly workers: SpawnedProcess[];
  /** Writes `dir/name` (lines joined with newlines) and returns its path. */
  writeFile(name: string, content: string | string[]): string;
  /** Another control plane replica on the same database and NATS; it becomes `controlPlane`. */
  startControlPlane(opts?: ControlPlaneOptions): Promise<SpawnedControlPlane>;
  /** Stops the current control plane and starts another (e.g. with other keys). */
  restartControlPlane(opts?: ControlPlaneOptions): Promise<SpawnedControlPlane>;
  /** A worker on the cluster's NATS; see WorkerOptions.until. */
  startWorker(opts: WorkerOptions): Promise<SpawnedProcess>;
  /** Any built app (supervisor, ...) on the cluster's NATS, stopped with `graceMs` by `stop()`. */
  spawn(
    app: Parameters<typeof spawnApp>[0],
    args: string[],
    env?: Record<string, string>,
    graceMs?: number,
  ): SpawnedProcess;
  /** waitFor, with the tail of every process's output in the error when it times out. */
  until<T>(
    what: string,
    probe: () => Promise<T | undefined | null | false>,
    timeoutMs?: number,
  ): Promise<T>;
  /** The tail of every process's output. */
  tails(): string;
  stop(): Promise<void>;
}

export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const external = typeof opts.nats === 'object' && 'url' in opts.nats ? opts.nats.url : undefined;
  const nats =
    opts.nats === 'shared' || external
      ? undefined
      : await OwnNatsServer.start(
          typeof opts.nats === 'object' && 'config' in opts.nats ? opts.nats.config : undefined,
        );
  const natsUrl = nats?.url ?? external ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const db = await createTestDatabase(opts.databasePrefix);
  const dir = mkdtempSync(join(tmpdir(), 'plexus-cluster-'));
  const controlPlanes: SpawnedControlPlane[] = [];
  const workers: SpawnedProcess[] = [];
  const others: { proc: SpawnedProcess; graceMs: number }[] = [];
  const pollMs = opts.pollMs ?? 50;
  let nc: NatsConnection | undefined;
  let api: AdminApi | undefined;

  const tails = () =>
    [
      ...controlPlanes.map((cp, i) => `control plane ${i}:\n${cp.output().slice(-3000)}`),
      ...workers.map((w, i) => `worker ${i} (pid ${w.child.pid}):\n${w.output().slice(-2000)}`),
      ...others.map(
        ({ proc }, i) => `process ${i} (pid ${proc.child.pid}):\n${proc.output().slice(-2000)}`,
      ),
    ].join('\n\n');

  const until = async <T>(
    what: string,
    probe: () => Promise<T | undefined | null | false>,
    timeoutMs = 30_000,
  ): Promise<T> => {
    try {
      return await waitFor(what, probe, timeoutMs, pollMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n\n${tails()}`);
    }
  };

  const startControlPlane = async (cpOpts: ControlPlaneOptions = {}) => {
    const token = cpOpts.adminToken ?? TEST_ADMIN_TOKEN;
    const cp = await spawnControlPlane({
      DATABASE_URL: db.url,
      NATS_URL: cpOpts.natsUrl ?? natsUrl,
      PORT: await freePort(),
      PLEXUS_ADMIN_TOKEN: token,
      LOG_LEVEL: cpOpts.logLevel,
      LOST_AFTER_MS: cpOpts.lostAfterMs,
      SCALE_EVALUATE_MS: cpOpts.scaleEvaluateMs,
      more: cpOpts.env,
    });
    controlPlanes.push(cp);
    api = retryingAdminApi(cp.url, token);
    return cp;
  };

  const stop = async () => {
    // A frozen (SIGSTOP) process would not hear SIGTERM.
    const all = [...workers, ...controlPlanes, ...others.map((o) => o.proc)];
    for (const p of all)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGCONT');
    await Promise.all(others.map(({ proc, graceMs }) => stopProcess(proc, graceMs)));
    await Promise.all(workers.map((w) => stopProcess(w, 8000)));
    await Promise.all(controlPlanes.map((cp) => stopProcess(cp, 8000)));
    await nc?.close();
    await nats?.dispose();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (opts.natsClient) nc = await connect({ servers: natsUrl.split(','), ...opts.natsClient });
    if (opts.controlPlane !== false) await startControlPlane(opts.controlPlane);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    db,
    nats,
    natsUrl,
    get nc() {
      if (!nc) throw new Error('startCluster was given no natsClient');
      return nc;
    },
    dir,
    get controlPlane() {
      if (!controlPlanes.length) throw new Error('no control plane started');
      return controlPlanes[controlPlanes.length - 1];
    },
    get api() {
      if (!api) throw new Error('no control plane started');
      return api;
    },
    workers,
    writeFile(name, content) {
      const path = join(dir, name);
      writeFileSync(path, Array.isArray(content) ? content.join('\n') : content);
      return path;
    },
    startControlPlane,
    async restartControlPlane(cpOpts) {
      const current = controlPlanes.pop();
      if (current) await stopProcess(current, 8000);
      return startControlPlane(cpOpts);
    },
    async startWorker({ until: waitUntil = 'up', timeoutMs = 30_000, ...workerOpts }) {
      const worker = spawnWorker({ natsUrl, ...workerOpts });
      workers.push(worker);
      if (waitUntil === 'running')
        await until(
          `worker ${workers.length} of ${workerOpts.nodeId} running`,
          async () => worker.output().includes('worker running'),
          timeoutMs,
        );
      else if (waitUntil === 'up')
        await until(
          `worker ${workers.length} of ${workerOpts.nodeId} up`,
          async () => {
            const res = await api!.get(`/processes?nodeId=${workerOpts.nodeId}&status=up`);
            return (res.body as { pid: number }[]).some((p) => p.pid === worker.child.pid);
          },
          timeoutMs,
        );
      return worker;
    },
    spawn(app, args, env = {}, graceMs = 30_000) {
      const proc = spawnApp(app, args, { NATS_URL: natsUrl, ...env });
      others.push({ proc, graceMs });
      return proc;
    },
    until,
    tails,
    stop,
  };
}
