import { createHash } from 'node:crypto';
import type { KV, KvEntry, NatsConnection } from 'nats';
import {
  isRevisionConflict,
  LOGIN_FAILURES_BUCKET,
  loginFailureKey,
  openLoginFailuresBucket,
} from '@plexus/bus';
import type { ModuleLogger } from '../../module-type';
import {
  countAttempt,
  countRetentionMs,
  decideAttempt,
  DEFAULT_THROTTLE,
  FailureCount,
  isForgotten,
  LoginThrottle,
  ThrottleDecision,
  ThrottlePolicy,
} from './login-throttle';
import { errorText } from '@plexus/common';

export interface SharedLoginThrottleOptions {
  nc: NatsConnection;
  /** The realm as it appears in keys (libs/sessions realmKey). */
  realmKey: string;
  policy?: ThrottlePolicy;
  logger: ModuleLogger;
  /** Wall clock in ms (default Date.now): counts are shared between hosts, as sessions are. */
  now?: () => number;
  /** Longest wait for one NATS request of a login (default 1000 ms). */
  requestTimeoutMs?: number;
  /** After NATS failed to answer, logins use this process's counts alone this long (default 5 s). */
  localOnlyAfterFailureMs?: number;
  /** Opens the bucket (default openLoginFailuresBucket); tests pass their own. */
  openBucket?: (nc: NatsConnection, requestTimeoutMs: number) => Promise<KV>;
}

/** Compare-and-set rounds before an attempt is refused as contended (many guesses at once). */
const MAX_ROUNDS = 8;
const CONTENDED: ThrottleDecision = { allowed: false, retryAfterMs: 1000 };

/** The key token of a user name: its SHA-256, so the bucket holds no names. */
export function userNameHash(username: string): string {
  return createHash('sha256').update(username, 'utf8').digest('base64url');
}

function decodeCount(entry: KvEntry | null): FailureCount | undefined {
  if (!entry || entry.operation !== 'PUT') return undefined;
  try {
    const c = JSON.parse(entry.string()) as Partial<FailureCount>;
    if (
      typeof c.failures === 'number' &&
      typeof c.lastAttemptAt === 'number' &&
      typeof c.lockedUntil === 'number'
    )
      return { failures: c.failures, lastAttemptAt: c.lastAttemptAt, lockedUntil: c.lockedUntil };
  } catch {
    /* not a count: treated as none, and overwritten by the next attempt */
  }
  return undefined;
}

/**
 * The login throttle of one realm, shared by every process of every node whose security module
 * uses the realm: the failed-login count of each user name lives in LOGIN_FAILURES_BUCKET under
 * `<realm key>.<SHA-256 of the name>`. Each attempt reads the count and writes it back one higher
 * with the revision it read (compare-and-set), so attempts racing on two processes both count.
 * A success deletes it; the bucket's max age drops a count nobody tried for a while. Nothing is
 * ever evicted for other names.
 *
 * When NATS does not answer (down, slow, or the bucket cannot be opened), logins go on with this
 * process's own counts (LoginThrottle, which mirrors what the realm last said about the names this
 * process saw) for localOnlyAfterFailureMs, then NATS is tried again: a NATS outage must not stop
 * users from logging in, and an attacker still meets the per-process throttle.
 */
export class SharedLoginThrottle {
  readonly local: LoginThrottle;
  private readonly policy: ThrottlePolicy;
  private readonly now: () => number;
  private readonly requestTimeoutMs: number;
  private kv: Promise<KV> | null = null;
  private localOnlyUntil = 0;

  constructor(private readonly options: SharedLoginThrottleOptions) {
    this.policy = options.policy ?? DEFAULT_THROTTLE;
    this.local = new LoginThrottle(this.policy);
    this.now = options.now ?? Date.now;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 1000;
  }

  /**
   * Starts an attempt for `username`: when allowed, it is counted as failed (on every process of
   * the realm) until succeeded(); the decision says how long to wait before answering.
   */
  async begin(username: string): Promise<ThrottleDecision> {
    const now = this.now();
    const kv = await this.bucket(now);
    if (!kv) return this.local.begin(username, now);
    const key = loginFailureKey(this.options.realmKey, userNameHash(username));
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const entry = await kv.get(key);
        const stored = decodeCount(entry);
        const count = stored && !isForgotten(stored, now, this.policy) ? stored : undefined;
        this.local.adopt(username, count, now);
        const decision = decideAttempt(count, now, this.policy);
        if (!decision.allowed) return decision;
        const next = countAttempt(count, now, this.policy);
        try {
          if (entry) await kv.update(key, JSON.stringify(next), entry.revision);
          else await kv.create(key, JSON.stringify(next));
        } catch (err) {
          if (isRevisionConflict(err)) continue; // another attempt counted first: read again
          throw err;
        }
        this.local.adopt(username, next, now);
        return decision;
      }
      return CONTENDED;
    } catch (err) {
      this.fellBack(err, now);
      return this.local.begin(username, now);
    }
  }

  /** The attempt succeeded: the realm forgets the user's failures. */
  async succeeded(username: string): Promise<void> {
    this.local.succeeded(username);
    const now = this.now();
    const kv = await this.bucket(now);
    if (!kv) return;
    try {
      await kv.delete(loginFailureKey(this.options.realmKey, userNameHash(username)));
    } catch (err) {
      this.fellBack(err, now);
    }
  }

  /** Failures counted for a user as this process last saw them (for logs). */
  failures(username: string): number {
    return this.local.failures(username, this.now());
  }

  /** The bucket, or null while logins use local counts only. */
  private async bucket(now: number): Promise<KV | null> {
    if (now < this.localOnlyUntil || this.options.nc.isClosed()) return null;
    this.kv ??= this.openBucket();
    try {
      return await this.kv;
    } catch (err) {
      this.kv = null;
      this.fellBack(err, now);
      return null;
    }
  }

  private async openBucket(): Promise<KV> {
    const open = this.options.openBucket ?? openLoginFailuresBucket;
    const kv = await open(this.options.nc, this.requestTimeoutMs);
    const ttl = (await kv.status()).ttl;
    if (ttl > 0 && ttl < countRetentionMs(this.policy))
      this.options.logger.warn(
        `the ${LOGIN_FAILURES_BUCKET} bucket keeps counts ${ttl} ms: a lock may end early (${countRetentionMs(this.policy)} ms needed)`,
      );
    return kv;
  }

  private fellBack(err: unknown, now: number) {
    const warn = now >= this.localOnlyUntil;
    this.localOnlyUntil = now + (this.options.localOnlyAfterFailureMs ?? 5000);
    if (warn)
      this.options.logger.warn(
        'failed-login counts of the realm cannot be read or written in NATS; counting on this process alone for now',
        { bucket: LOGIN_FAILURES_BUCKET, error: errorText(err) },
      );
  }
}
