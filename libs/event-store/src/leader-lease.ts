import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The lease the relay leader holds (and with it webhooks, failure detection, autoscaling). */
export const RELAY_LEASE = 'relay';

export const DEFAULT_LEADER_LEASE_MS = 5000;

/**
 * What a statement that only the leader may run names: the lease and the term it was started
 * under. See leaseHeld.
 */
export interface LeaseFence {
  lease: string;
  term: string;
}

/** A leader's statement was refused: the term it was started under is over. */
export class LeaseLost extends Error {
  constructor(readonly fence: LeaseFence) {
    super(`leadership term ${fence.term} of "${fence.lease}" is over`);
  }
}

/**
 * SQL condition, true while the term is the lease's current, unexpired one. `$name` and `$term`
 * are the statement's parameters holding LeaseFence.lease and LeaseFence.term. FOR SHARE locks
 * the lease row, so a takeover (an UPDATE of the row) and a fenced statement are ordered: either
 * the statement commits before the takeover does, or it sees the new term and changes nothing.
 */
export const leaseHeld = (name: string, term: string) =>
  `EXISTS (SELECT 1 FROM leader_leases WHERE name = ${name} AND term = ${term}::bigint AND expires_at > now() FOR SHARE)`;

export interface LeaseTimings {
  leaseMs: number;
  /** How often the holder renews. */
  renewEveryMs: number;
  /**
   * The holder counts itself leader until (start of its last successful renewal) + leaseMs -
   * marginMs on its monotonic clock: the database expires the lease leaseMs after it ran the
   * renewal, which is later, so the holder always steps down before anyone can take over.
   */
  marginMs: number;
  /** How often a replica that is not leader tries to take the lease. */
  acquireEveryMs: number;
}

export function leaseTimings(leaseMs: number): LeaseTimings {
  return {
    leaseMs,
    renewEveryMs: Math.floor(leaseMs / 3),
    marginMs: Math.floor(leaseMs / 5),
    acquireEveryMs: Math.min(1000, Math.floor(leaseMs / 3)),
  };
}

/**
 * How long the holder may still act as leader, on the monotonic clock (pure: the clock is given).
 */
export class LeaseValidity {
  private validUntil = -Infinity;

  constructor(private readonly timings: LeaseTimings) {}

  /** A renewal (or the acquisition) sent at `sentAt` succeeded. */
  renewed(sentAt: number) {
    this.validUntil = sentAt + this.timings.leaseMs - this.timings.marginMs;
  }

  lapse() {
    this.validUntil = -Infinity;
  }

  isValid(now: number) {
    return now < this.validUntil;
  }

  /** Milliseconds left at `now` (0 once lapsed). */
  remaining(now: number) {
    return Math.max(0, this.validUntil - now);
  }
}

const monotonicMs = () => performance.now();

/** A statement that gives up after `timeoutMs` (pg's per-query read timeout, absent from its types). */
async function timedQuery<T>(
  client: Client,
  text: string,
  values: unknown[],
  timeoutMs: number,
): Promise<T[]> {
  const config = { text, values, query_timeout: Math.max(1, Math.floor(timeoutMs)) };
  const result = await client.query(config as { text: string; values: unknown[] });
  return result.rows as T[];
}

export interface LeaderLeaseOptions {
  /** The lease's row in leader_leases (RELAY_LEASE). */
  name: string;
  leaseMs?: number;
  /** Who holds it, as stored in the row: host, pid and a random part, unique per instance. */
  holder?: string;
  onAcquired: (fence: LeaseFence) => void;
  /** Leadership is over; runs before the next attempt to take the lease. */
  onLost: (reason: string) => void | Promise<void>;
  onError?: (err: unknown) => void;
}

/**
 * Leadership as a lease row in Postgres, renewed by its holder on a dedicated connection. Unlike a
 * session advisory lock it lapses when the holder stops answering, even while its TCP connection
 * stays open (SIGSTOP, a paused VM, a partition): the database expires it `leaseMs` after the last
 * renewal, by its own clock, and the next replica to try takes it with the term incremented.
 *
 * The holder renews every leaseMs/3 (`WHERE holder AND term AND not expired`) and gives leadership
 * up itself when a renewal is refused, fails, or has not succeeded in time (isLeader reads the
 * monotonic clock, so a process resumed after a freeze stops acting at once, before any timer
 * runs). A holder that gave up may take the lease back at once, under a new term.
 */
export class LeaderLease {
  readonly timings: LeaseTimings;
  readonly holder: string;
  private readonly validity: LeaseValidity;
  private client: Client | null = null;
  private current: LeaseFence | null = null;
  private stopped = true;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private watchdog: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly options: LeaderLeaseOptions,
  ) {
    this.timings = leaseTimings(options.leaseMs ?? DEFAULT_LEADER_LEASE_MS);
    this.validity = new LeaseValidity(this.timings);
    this.holder =
      options.holder ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  }

  /** Whether this replica may act as leader right now (its lease has not lapsed locally). */
  get isLeader(): boolean {
    return this.current !== null && this.validity.isValid(monotonicMs());
  }

  /** The current term to fence statements with, or null when not leader. */
  get fence(): LeaseFence | null {
    return this.isLeader ? this.current : null;
  }

  /** The term of this replica's leadership (null when not leader). */
  get term(): string | null {
    return this.fence?.term ?? null;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
    const fence = this.current;
    if (fence) {
      await this.lose('stopping');
      // Hand over at once instead of after the lease: expire our own term.
      await this.connection()
        .then((c) =>
          timedQuery(
            c,
            `UPDATE leader_leases SET expires_at = now()
             WHERE name = $1 AND holder = $2 AND term = $3::bigint`,
            [fence.lease, this.holder, fence.term],
            this.timings.acquireEveryMs,
          ),
        )
        .catch(() => undefined);
    }
    await this.dropClient();
  }

  private async run() {
    while (!this.stopped) {
      // A new term starts only after the last one's onLost has finished (its work has stopped).
      if (this.losing) await this.losing;
      try {
        if (this.current) await this.renew();
        else await this.acquire();
      } catch (err) {
        this.options.onError?.(err);
        await this.dropClient();
        if (this.current) await this.lose(`renewal failed: ${(err as Error).message}`);
      }
      if (this.stopped) break;
      await this.sleep(this.current ? this.timings.renewEveryMs : this.timings.acquireEveryMs);
    }
  }

  private async acquire() {
    const sentAt = monotonicMs();
    const client = await this.connection();
    const rows = await timedQuery<{ term: string }>(
      client,
      `INSERT INTO leader_leases AS l (name, holder, term, expires_at)
       VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE
         SET holder = EXCLUDED.holder, term = l.term + 1, expires_at = EXCLUDED.expires_at,
             acquired_at = now(), renewed_at = now()
         WHERE l.expires_at <= now() OR l.holder = EXCLUDED.holder
       RETURNING term::text AS term`,
      [this.options.name, this.holder, this.timings.leaseMs],
      this.timings.leaseMs - this.timings.marginMs,
    );
    if (!rows.length || this.stopped) return;
    this.validity.renewed(sentAt);
    if (!this.validity.isValid(monotonicMs())) return; // answered too late to act on; try again
    this.current = { lease: this.options.name, term: rows[0].term };
    this.armWatchdog();
    this.options.onAcquired(this.current);
  }

  private async renew() {
    const fence = this.current!;
    const now = monotonicMs();
    if (!this.validity.isValid(now)) {
      await this.lose('renewal late: the lease lapsed before it was renewed');
      return;
    }
    const client = await this.connection();
    const rows = await timedQuery(
      client,
      `UPDATE leader_leases SET expires_at = now() + $4 * interval '1 millisecond', renewed_at = now()
       WHERE name = $1 AND holder = $2 AND term = $3::bigint AND expires_at > now()
       RETURNING term`,
      [fence.lease, this.holder, fence.term, this.timings.leaseMs],
      // A renewal that answers after the lease lapsed locally is of no use.
      this.validity.remaining(now),
    );
    if (this.current !== fence) return;
    if (!rows.length) {
      await this.lose('the lease expired or was taken over');
      return;
    }
    this.validity.renewed(now);
    this.armWatchdog();
  }

  /** Steps down when the lease lapses locally, even while a renewal is still waiting. */
  private armWatchdog() {
    if (this.watchdog) clearTimeout(this.watchdog);
    const left = this.validity.remaining(monotonicMs());
    this.watchdog = setTimeout(() => {
      if (this.current && !this.validity.isValid(monotonicMs()))
        void this.lose('renewal late: no successful renewal within the lease');
    }, left + 1);
    this.watchdog.unref();
  }

  private losing: Promise<void> | null = null;

  private lose(reason: string): Promise<void> {
    this.losing ??= (async () => {
      if (this.watchdog) clearTimeout(this.watchdog);
      this.validity.lapse();
      const had = this.current;
      this.current = null;
      if (had) {
        // A renewal still in flight is abandoned with its connection.
        await this.dropClient();
        await this.options.onLost(reason);
      }
    })().finally(() => (this.losing = null));
    return this.losing;
  }

  private async connection(): Promise<Client> {
    if (this.client) return this.client;
    const client = new Client({
      connectionString: this.url,
      connectionTimeoutMillis: this.timings.acquireEveryMs,
      application_name: 'plexus-leader-lease',
      // The server gives up on a renewal the holder has stopped waiting for, instead of applying
      // it (late) after a lock wait.
      statement_timeout: this.timings.leaseMs - this.timings.marginMs,
    });
    client.on('error', (err) => {
      this.options.onError?.(err);
      if (this.client === client) this.client = null;
    });
    await client.connect();
    this.client = client;
    return client;
  }

  /**
   * Not awaited: on a dead network a polite end() waits for the peer forever. The socket is
   * destroyed soon after instead of lingering.
   */
  private async dropClient() {
    const client = this.client;
    this.client = null;
    if (!client) return;
    void client.end().catch(() => undefined);
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } })
      .connection?.stream;
    setTimeout(() => stream?.destroy(), 1000).unref();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
