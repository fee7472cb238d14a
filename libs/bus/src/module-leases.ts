import { KV, KvEntry, NatsConnection } from 'nats';
import { LEASES_BUCKET, moduleLeaseKey } from './names';
import { errorText, Logger, silentLogger } from '@plexus/common';
import { clusterReplicas } from './replicas';

/** Lease time of `single` modules: the failure detector's LOST_AFTER_MS default. */
export const DEFAULT_LEASE_MS = 3000;

/**
 * How long the host waits for a `single` module to stop (module-host): the lease margin covers
 * it, so a holder that stops its module at its deadline has done so before the lease can lapse
 * and another process start it. A module still stopping after this is abandoned by the host;
 * the lease's fencing token (ModuleContext.lease) is what can still guard its late writes.
 */
export const SINGLE_MODULE_STOP_TIMEOUT_MS = 1000;
/** Shortest renewal period the timings allow. */
const MIN_RENEW_MS = 200;

/** One value per key; the max age is the lease time (see LEASES_BUCKET). */
export const LEASES_BUCKET_OPTIONS = {
  history: 1,
  ttl: DEFAULT_LEASE_MS,
  description: 'Plexus leases of activation: single modules (which process runs each)',
} as const;

/**
 * Opens the leases bucket, creating it when missing (an existing bucket is used as it is, and
 * its max age is the lease time). `requestTimeoutMs` bounds every request made through it.
 */
export async function openLeasesBucket(nc: NatsConnection, requestTimeoutMs = 5000): Promise<KV> {
  try {
    return await nc
      .jetstream({ timeout: requestTimeoutMs })
      .views.kv(LEASES_BUCKET, { ...LEASES_BUCKET_OPTIONS, replicas: clusterReplicas(nc) });
  } catch (err) {
    throw new Error(`cannot open the leases bucket ${LEASES_BUCKET}: ${errorText(err)}`);
  }
}

/** The value of a lease key. */
export interface ModuleLease {
  processId: string;
  nodeId: string;
  moduleId: string;
  acquiredAt: string;
}

export interface LeaseTimings {
  /** The bucket's max age: a key not renewed for this long is gone. */
  leaseMs: number;
  /** How often the holder renews. */
  renewMs: number;
  /**
   * How long before the lease could lapse the holder gives up: the time to stop the module, at
   * least the stop timeout of single modules.
   */
  marginMs: number;
  /** How often a standby reads the key. */
  pollMs: number;
  /** Longest wait for one NATS request. */
  requestTimeoutMs: number;
}

/**
 * Timings derived from the lease time and the stop timeout of single modules: give up a third of
 * a lease, or the stop timeout if longer, before the lease could lapse, and renew twice in what
 * is left, so two renewals may fail before the holder stops its module.
 */
export function leaseTimings(
  leaseMs: number,
  stopTimeoutMs: number = SINGLE_MODULE_STOP_TIMEOUT_MS,
): LeaseTimings {
  if (!Number.isFinite(leaseMs) || leaseMs < 600)
    throw new Error(
      `the ${LEASES_BUCKET} bucket needs a max age of at least 600 ms to hold leases (it has ${leaseMs} ms)`,
    );
  const marginMs = Math.max(Math.round(leaseMs / 3), stopTimeoutMs);
  const renewMs = Math.round((leaseMs - marginMs) / 2);
  if (renewMs < MIN_RENEW_MS)
    throw new Error(
      `a stop timeout of ${stopTimeoutMs} ms for single modules needs a lease of at least ${stopTimeoutMs + 2 * MIN_RENEW_MS} ms (the ${LEASES_BUCKET} bucket's max age is ${leaseMs} ms)`,
    );
  return {
    leaseMs,
    renewMs,
    marginMs,
    pollMs: Math.min(200, Math.round(leaseMs / 10)),
    requestTimeoutMs: Math.min(Math.round(leaseMs / 6), renewMs),
  };
}

/**
 * The last moment (local monotonic ms) a holder may run the module after a successful write sent
 * at `sentAt`. The server stored that write after it was sent and expires it no earlier than a
 * lease time later, so nobody else can create the key before `sentAt + leaseMs`; stopping by the
 * deadline leaves the margin for the module's stop.
 */
export function leaseDeadline(sentAt: number, t: LeaseTimings): number {
  return sentAt + t.leaseMs - t.marginMs;
}

/** A key that is missing (expired or never written) or deleted may be taken. */
export function leaseIsFree(entry: Pick<KvEntry, 'operation'> | null): boolean {
  return !entry || entry.operation !== 'PUT';
}

/** True for the JetStream refusal of a revision-checked write ("wrong last sequence"). */
export function isRevisionConflict(err: unknown): boolean {
  const code = (err as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
  return code === 10071 || /wrong last sequence/i.test(errorText(err));
}

export interface ModuleLeasesOptions {
  nodeId: string;
  processId: string;
  /** Opens the leases bucket (retried until it works). */
  openBucket: () => Promise<KV>;
  /** This process holds the module's lease now: it may start the module. */
  onAcquired: (moduleId: string) => void;
  /**
   * The lease is lost (taken, expired, or not renewed by its deadline): resolve once the module
   * has stopped. Only then is the lease released or contended for again.
   */
  onLost: (moduleId: string, reason: string) => Promise<void>;
  logger?: Logger;
  /** Local monotonic clock in ms (default performance.now). */
  now?: () => number;
  /** How long the host may take to stop a single module (default SINGLE_MODULE_STOP_TIMEOUT_MS). */
  stopTimeoutMs?: number;
}

type Phase = 'standby' | 'held' | 'stopping' | 'dropped';

interface Contest {
  moduleId: string;
  key: string;
  phase: Phase;
  /** Revision of this process's last successful write of the key. */
  revision: number;
  /** Revision of the write that won the lease: the fencing token of this tenure. */
  tenure: number;
  /** Local time (ms) by which the lease must be renewed; see leaseDeadline. */
  deadline: number;
  acquiredAt: string;
  timer: NodeJS.Timeout | null;
  deadlineTimer: NodeJS.Timeout | null;
  /** The request in progress (acquire or renew), awaited before a release. */
  op: Promise<void> | null;
  /** When a failed request was last logged (Date.now()). */
  warnedAt: number;
}

/**
 * The leases of one process on the `single` modules of its node. A standby reads each key every
 * pollMs and creates it once it is gone (kv.create fails while it exists); the holder renews it
 * with a revision-checked update every renewMs. The holder stops the module (onLost) when a
 * renewal is refused or when it could not renew by its deadline, which falls a margin before the
 * key can expire on the server; a standby can only create the key after that expiry or a delete,
 * so two processes never run the module at once. Releasing (after the module stopped) deletes the
 * key with a revision check, so a standby takes over within one poll.
 */
export class ModuleLeases {
  private readonly contests = new Map<string, Contest>();
  private readonly logger: Logger;
  private readonly now: () => number;
  private kv: KV | null = null;
  private timings: LeaseTimings | null = null;
  private closed = false;

  constructor(private readonly options: ModuleLeasesOptions) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? (() => performance.now());
  }

  /** Whether this process holds the lease of a module (and so may run it) right now. */
  holds(moduleId: string): boolean {
    const c = this.contests.get(moduleId);
    // Past the deadline it is not held even if the timer that stops the module has not run yet
    // (a stalled event loop runs I/O callbacks before overdue timers).
    return c?.phase === 'held' && this.now() < c.deadline;
  }

  /**
   * The fencing token of a module's lease while this process holds it (see holds), else null:
   * the KV revision of the write that won it. Every later tenure, here or on another process,
   * has a higher one, so a module can refuse writes stamped with a lower token than it has seen.
   */
  revision(moduleId: string): number | null {
    const c = this.contests.get(moduleId);
    return c && this.holds(moduleId) ? c.tenure : null;
  }

  /** Modules whose lease this process holds. */
  held(): string[] {
    return [...this.contests.values()].filter((c) => c.phase === 'held').map((c) => c.moduleId);
  }

  /** Modules this process contends for (held or standing by). */
  contended(): string[] {
    return [...this.contests.keys()];
  }

  /**
   * Contends for these modules too. Resolves after one attempt at each new one, so a caller can
   * apply a document knowing whether this process won; later attempts run in the background.
   */
  async contend(moduleIds: Iterable<string>): Promise<void> {
    if (this.closed) return;
    const fresh: Contest[] = [];
    for (const moduleId of moduleIds) {
      if (this.contests.has(moduleId)) continue;
      const contest: Contest = {
        moduleId,
        key: moduleLeaseKey(this.options.nodeId, moduleId),
        phase: 'standby',
        revision: 0,
        tenure: 0,
        deadline: 0,
        acquiredAt: '',
        timer: null,
        deadlineTimer: null,
        op: null,
        warnedAt: 0,
      };
      this.contests.set(moduleId, contest);
      fresh.push(contest);
    }
    await Promise.all(fresh.map((c) => this.step(c)));
  }

  /**
   * Stops contending for every module not in `keep`, releasing the leases held among them: call
   * it once such a module is stopped or runs on every process anyway.
   */
  async retain(keep: ReadonlySet<string>): Promise<void> {
    const gone = [...this.contests.values()].filter((c) => !keep.has(c.moduleId));
    await Promise.all(gone.map((c) => this.drop(c)));
  }

  /**
   * Gives up a held lease because this process could not run the module (its start failed): the
   * module is stopped, the key released so that another process takes over, and this one waits
   * `backoffMs` before contending again, so a module that fails everywhere moves between the
   * processes slowly instead of spinning.
   */
  async yieldLease(moduleId: string, reason: string, backoffMs: number): Promise<void> {
    const c = this.contests.get(moduleId);
    if (c?.phase === 'held') await this.lose(c, reason, backoffMs);
  }

  /** Releases every lease (call after the modules stopped) and stops contending. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.contests.values()].map((c) => this.drop(c)));
  }

  private async bucket(): Promise<{ kv: KV; t: LeaseTimings }> {
    if (!this.kv || !this.timings) {
      const kv = await this.options.openBucket();
      const t = leaseTimings((await kv.status()).ttl, this.options.stopTimeoutMs);
      this.kv = kv;
      this.timings = t;
    }
    return { kv: this.kv, t: this.timings };
  }

  private schedule(c: Contest, ms: number) {
    if (c.timer) clearTimeout(c.timer);
    c.timer = setTimeout(() => void this.step(c), ms);
  }

  /** One attempt (standby) or renewal (holder), then schedules the next. */
  private async step(c: Contest): Promise<void> {
    c.timer = null;
    if (this.closed || c.phase === 'dropped' || c.phase === 'stopping' || c.op) return;
    let next = 200;
    const op = (async () => {
      try {
        const { kv, t } = await this.bucket();
        next = c.phase === 'held' ? t.renewMs : t.pollMs;
        if (c.phase === 'held') {
          if (!(await this.renew(c, kv, t))) next = t.pollMs;
        } else {
          if (await this.acquire(c, kv, t)) next = t.renewMs;
        }
      } catch (err) {
        // Retried every poll: say so at most every few seconds while it keeps failing.
        if (!this.closed && Date.now() - c.warnedAt >= 5000) {
          c.warnedAt = Date.now();
          this.logger.warn('lease request failed; retrying', {
            moduleId: c.moduleId,
            phase: c.phase,
            error: errorText(err),
          });
        }
      }
    })();
    c.op = op;
    try {
      await op;
    } finally {
      c.op = null;
    }
    if (!this.closed && (c.phase === 'standby' || c.phase === 'held')) this.schedule(c, next);
  }

  /** Takes the lease when its key is free; true when this process holds it now. */
  private async acquire(c: Contest, kv: KV, t: LeaseTimings): Promise<boolean> {
    if (!leaseIsFree(await kv.get(c.key))) return false;
    const acquiredAt = new Date().toISOString();
    const value: ModuleLease = {
      processId: this.options.processId,
      nodeId: this.options.nodeId,
      moduleId: c.moduleId,
      acquiredAt,
    };
    const sentAt = this.now();
    let revision: number;
    try {
      revision = await kv.create(c.key, JSON.stringify(value));
    } catch (err) {
      if (isRevisionConflict(err)) return false; // another process created it first
      throw err;
    }
    const deadline = leaseDeadline(sentAt, t);
    if (c.phase !== 'standby' || this.closed || this.now() >= deadline) {
      // Not wanted any more, or won too late to be safe: give it back.
      await kv.delete(c.key, { previousSeq: revision }).catch(() => undefined);
      return false;
    }
    c.phase = 'held';
    c.revision = revision;
    c.tenure = revision;
    c.acquiredAt = acquiredAt;
    this.armDeadline(c, deadline);
    this.logger.log('lease acquired; this process runs the module', {
      moduleId: c.moduleId,
      revision,
    });
    try {
      this.options.onAcquired(c.moduleId);
    } catch (err) {
      this.logger.error('lease acquired callback failed', {
        moduleId: c.moduleId,
        error: errorText(err),
      });
    }
    return true;
  }

  /** Renews a held lease; false when the renewal did not go through. */
  private async renew(c: Contest, kv: KV, t: LeaseTimings): Promise<boolean> {
    const value: ModuleLease = {
      processId: this.options.processId,
      nodeId: this.options.nodeId,
      moduleId: c.moduleId,
      acquiredAt: c.acquiredAt,
    };
    const sentAt = this.now();
    let revision: number;
    try {
      revision = await kv.update(c.key, JSON.stringify(value), c.revision);
    } catch (err) {
      if (isRevisionConflict(err)) {
        void this.lose(c, 'the lease expired or was taken (revision conflict)');
        return false;
      }
      this.logger.warn('lease renewal failed; retrying until its deadline', {
        moduleId: c.moduleId,
        error: errorText(err),
      });
      return false;
    }
    c.revision = revision; // the key is ours at this revision, whatever happened meanwhile
    if (c.phase !== 'held') return false;
    this.armDeadline(c, leaseDeadline(sentAt, t));
    return true;
  }

  private armDeadline(c: Contest, deadline: number) {
    c.deadline = deadline;
    if (c.deadlineTimer) clearTimeout(c.deadlineTimer);
    c.deadlineTimer = setTimeout(
      () => void this.lose(c, 'the lease could not be renewed before its deadline'),
      Math.max(0, deadline - this.now()),
    );
  }

  /**
   * Stops the module (onLost) before anything else; then releases what may still be ours and
   * stands by, contending again after `retryMs` (default: the next poll).
   */
  private async lose(c: Contest, reason: string, retryMs?: number) {
    if (c.phase !== 'held') return;
    c.phase = 'stopping';
    if (c.deadlineTimer) clearTimeout(c.deadlineTimer);
    if (c.timer) clearTimeout(c.timer);
    c.deadlineTimer = c.timer = null;
    this.logger.warn('lease lost; stopping the module', { moduleId: c.moduleId, reason });
    try {
      await this.options.onLost(c.moduleId, reason);
    } catch (err) {
      this.logger.error('stopping a module after its lease was lost failed', {
        moduleId: c.moduleId,
        error: errorText(err),
      });
    }
    await c.op?.catch(() => undefined);
    // The module is stopped: if the key is still ours at our last revision, free it at once.
    await this.kv?.delete(c.key, { previousSeq: c.revision }).catch(() => undefined);
    if (this.closed || this.contests.get(c.moduleId) !== c) return;
    c.phase = 'standby';
    this.schedule(c, retryMs ?? this.timings?.pollMs ?? 200);
  }

  private async drop(c: Contest) {
    const wasHeld = c.phase === 'held';
    c.phase = 'dropped';
    if (this.contests.get(c.moduleId) === c) this.contests.delete(c.moduleId);
    if (c.timer) clearTimeout(c.timer);
    if (c.deadlineTimer) clearTimeout(c.deadlineTimer);
    c.deadlineTimer = c.timer = null;
    await c.op?.catch(() => undefined);
    if (!wasHeld || !this.kv) return;
    try {
      await this.kv.delete(c.key, { previousSeq: c.revision });
      this.logger.log('lease released', { moduleId: c.moduleId });
    } catch (err) {
      this.logger.warn('releasing a lease failed; it expires by itself', {
        moduleId: c.moduleId,
        error: errorText(err),
      });
    }
  }
}
