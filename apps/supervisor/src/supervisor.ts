import { ChildProcess, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { planSlots } from '@plexus/domain';

/** server_port_offset when the node's properties do not set it (Smile CDR's convention). */
export const DEFAULT_PORT_STEP = 100;
/** A worker that has not exited this long after SIGTERM is killed. */
const STOP_TIMEOUT_MS = 20_000;
/** A worker that ran at least this long before dying is restarted without backing off. */
const HEALTHY_RUN_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

export interface SupervisorConfig {
  nodeId: string;
  propertiesFile: string | null;
  maxProcesses: number;
  /** dist/apps/worker/main.js */
  workerScript: string;
  logger: Logger;
  /** The node's server_port_offset (read when a slot above 0 starts). */
  portStep: () => Promise<number>;
}

interface Child {
  slot: number;
  process: ChildProcess;
  startedAt: number;
  stopping: boolean;
  exited: Promise<number | null>;
}

/**
 * Keeps `desired` worker processes of one node running in numbered slots; slot N runs with
 * --port-offset N × server_port_offset. Starts the lowest free slots, stops the highest first
 * (SIGTERM, so each announces that it left), and restarts a worker that dies unexpectedly, backing
 * off while it keeps dying young. One reconcile at a time; a change meanwhile reruns it.
 */
export class Supervisor {
  private readonly children = new Map<number, Child>();
  private readonly restartNotBefore = new Map<number, number>();
  private readonly failures = new Map<number, number>();
  private desired = 1;
  private reconciling: Promise<void> | null = null;
  private again = false;
  private shuttingDown = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly config: SupervisorConfig) {}

  get running(): number[] {
    return [...this.children.values()].filter((c) => !c.stopping).map((c) => c.slot);
  }

  /** The count to run (capped at --max); reconciles at once. */
  setDesired(count: number, why: string) {
    const capped = Math.min(count, this.config.maxProcesses);
    if (capped < count)
      this.config.logger.warn(
        { recommended: count, max: this.config.maxProcesses },
        'more processes recommended than --max allows on this host',
      );
    if (capped !== this.desired)
      this.config.logger.info({ from: this.desired, to: capped, why }, 'desired process count');
    this.desired = capped;
    this.reconcile();
  }

  reconcile(): Promise<void> {
    if (this.reconciling) {
      this.again = true;
      return this.reconciling;
    }
    this.reconciling = (async () => {
      do {
        this.again = false;
        await this.step().catch((err) =>
          this.config.logger.error({ error: String(err) }, 'reconciling the processes failed'),
        );
      } while (this.again && !this.shuttingDown);
    })().finally(() => (this.reconciling = null));
    return this.reconciling;
  }

  private async step() {
    if (this.shuttingDown) return;
    const plan = planSlots(this.running, this.desired);
    const now = Date.now();
    for (const slot of plan.start) {
      if (this.shuttingDown) return;
      const notBefore = this.restartNotBefore.get(slot) ?? 0;
      if (notBefore > now) {
        this.retryLater(notBefore - now);
        continue;
      }
      await this.start(slot);
    }
    for (const slot of plan.stop) {
      if (this.again) break; // the count changed meanwhile: plan again before stopping more
      await this.stop(slot, 'fewer processes recommended');
    }
  }

  private retryLater(ms: number) {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.reconcile();
    }, ms);
  }

  private async start(slot: number) {
    const portOffset = slot === 0 ? 0 : slot * (await this.config.portStep());
    const args = [this.config.workerScript, '--node-id', this.config.nodeId];
    if (this.config.propertiesFile) args.push('--properties', this.config.propertiesFile);
    args.push('--port-offset', String(portOffset));
    // Its own process group: a Ctrl-C reaches the supervisor only, which then stops each worker once.
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
      env: process.env,
    });
    const entry: Child = {
      slot,
      process: child,
      startedAt: Date.now(),
      stopping: false,
      exited: new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          this.onExit(entry, code, signal);
          resolve(code);
        }),
      ),
    };
    child.once('error', (err) =>
      this.config.logger.error({ slot, error: err.message }, 'could not start a worker'),
    );
    this.children.set(slot, entry);
    this.config.logger.info({ slot, pid: child.pid, portOffset }, 'worker started');
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null) {
    if (this.children.get(child.slot) === child) this.children.delete(child.slot);
    if (child.stopping || this.shuttingDown) {
      this.config.logger.info({ slot: child.slot, pid: child.process.pid, code }, 'worker stopped');
      return;
    }
    const ranMs = Date.now() - child.startedAt;
    const failures = ranMs >= HEALTHY_RUN_MS ? 1 : (this.failures.get(child.slot) ?? 0) + 1;
    this.failures.set(child.slot, failures);
    const delay = Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** (failures - 1));
    this.restartNotBefore.set(child.slot, Date.now() + delay);
    this.config.logger.warn(
      { slot: child.slot, pid: child.process.pid, code, signal, ranMs, restartInMs: delay },
      'worker exited unexpectedly; restarting it',
    );
    void this.reconcile();
  }

  /** SIGTERM, and SIGKILL when it has not exited after STOP_TIMEOUT_MS. */
  private async stop(slot: number, why: string) {
    const child = this.children.get(slot);
    if (!child || child.stopping) return;
    child.stopping = true;
    this.config.logger.info({ slot, pid: child.process.pid, why }, 'stopping worker');
    child.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.config.logger.warn({ slot, pid: child.process.pid }, 'worker did not stop; killing it');
      child.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await child.exited;
    clearTimeout(timer);
  }

  /** Stops every worker (all at once, each gracefully) and waits for them. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // A start under way finishes first, so that its worker is stopped too.
    await Promise.race([this.reconciling, new Promise((r) => setTimeout(r, 5000))]);
    await Promise.all(
      [...this.children.keys()].map((slot) => this.stop(slot, 'supervisor stopping')),
    );
    await Promise.all([...this.children.values()].map((c) => c.exited));
  }
}
