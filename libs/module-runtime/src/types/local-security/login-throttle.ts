/**
 * Slows down, then refuses, repeated failed logins for one user name (known or not, so that the
 * throttle says nothing about which users exist). Pure: the caller passes the time.
 *
 * With f failed attempts so far (attempts under way count as failed until they succeed, so
 * parallel guesses do not slip through):
 * - f < slowAfter: answered at once;
 * - slowAfter <= f < lockAfter: answered after baseDelayMs * 2^(f - slowAfter), at most maxDelayMs;
 * - f >= lockAfter: refused (429) until baseLockMs * 2^(f - lockAfter), at most maxLockMs, after
 *   the last failure; one attempt is let through when that has passed.
 * A success forgets the user; so does forgetAfterMs without attempts.
 *
 * The counts of a realm are shared by all its processes (SharedLoginThrottle, in NATS KV); the
 * LoginThrottle below is one process's copy, and what it falls back on when NATS cannot answer.
 */
export interface ThrottlePolicy {
  slowAfter: number;
  lockAfter: number;
  baseDelayMs: number;
  maxDelayMs: number;
  baseLockMs: number;
  maxLockMs: number;
  forgetAfterMs: number;
  /**
   * Most user names below the lock a process keeps in memory; the least recently tried are
   * forgotten first. Names at or past the lock are never dropped for others (only when
   * forgotten), so a flood of names cannot unlock one.
   */
  maxTracked: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  slowAfter: 3,
  lockAfter: 5,
  baseDelayMs: 500,
  maxDelayMs: 4000,
  baseLockMs: 30_000,
  maxLockMs: 15 * 60_000,
  forgetAfterMs: 15 * 60_000,
  maxTracked: 10_000,
};

export type ThrottleDecision =
  { allowed: true; delayMs: number } | { allowed: false; retryAfterMs: number };

/** The failures counted for one user name (times in ms since the epoch). */
export interface FailureCount {
  failures: number;
  lastAttemptAt: number;
  lockedUntil: number;
}

/** How long a count must be kept after its last attempt: it matters until forgotten. */
export function countRetentionMs(p: ThrottlePolicy): number {
  return Math.max(p.forgetAfterMs, p.maxLockMs);
}

/** Whether a count no longer matters: not locked, and no attempt for forgetAfterMs. */
export function isForgotten(c: FailureCount, now: number, p: ThrottlePolicy): boolean {
  return now >= c.lockedUntil && now - c.lastAttemptAt > p.forgetAfterMs;
}

/** How the next attempt is treated given the count so far (undefined: none). */
export function decideAttempt(
  c: FailureCount | undefined,
  now: number,
  p: ThrottlePolicy,
): ThrottleDecision {
  const f = c?.failures ?? 0;
  if (c && f >= p.lockAfter && now < c.lockedUntil)
    return { allowed: false, retryAfterMs: c.lockedUntil - now };
  if (f < p.slowAfter) return { allowed: true, delayMs: 0 };
  const delayMs = Math.min(p.baseDelayMs * 2 ** Math.min(f - p.slowAfter, 30), p.maxDelayMs);
  return { allowed: true, delayMs };
}

/** The count after one more (allowed) attempt, counted as failed until it succeeds. */
export function countAttempt(
  c: FailureCount | undefined,
  now: number,
  p: ThrottlePolicy,
): FailureCount {
  const failures = (c?.failures ?? 0) + 1;
  const lockedUntil =
    failures >= p.lockAfter
      ? now + Math.min(p.baseLockMs * 2 ** Math.min(failures - p.lockAfter, 30), p.maxLockMs)
      : (c?.lockedUntil ?? 0);
  return { failures, lastAttemptAt: now, lockedUntil };
}

/** One process's counts, in memory. */
export class LoginThrottle {
  /** Names below the lock, least recently tried first; at most policy.maxTracked. */
  private readonly open = new Map<string, FailureCount>();
  /** Names at or past the lock, least recently tried first; dropped only once forgotten. */
  private readonly held = new Map<string, FailureCount>();

  constructor(readonly policy: ThrottlePolicy = DEFAULT_THROTTLE) {}

  /** How the next attempt for `username` would be treated, without recording anything. */
  check(username: string, now: number): ThrottleDecision {
    return decideAttempt(this.current(username, now), now, this.policy);
  }

  /**
   * Starts an attempt: when allowed, counts it as failed until succeeded() is called, and says
   * how long to wait before answering.
   */
  begin(username: string, now: number): ThrottleDecision {
    const count = this.current(username, now);
    const decision = decideAttempt(count, now, this.policy);
    if (decision.allowed) this.store(username, countAttempt(count, now, this.policy), now);
    return decision;
  }

  /** The attempt succeeded: forget the user's failures. */
  succeeded(username: string) {
    this.open.delete(username);
    this.held.delete(username);
  }

  /** Takes the count the realm holds for a user (undefined: none), e.g. read from NATS. */
  adopt(username: string, count: FailureCount | undefined, now = count?.lastAttemptAt ?? 0) {
    if (!count) return this.succeeded(username);
    this.store(username, count, now);
  }

  /** Failed attempts counted for a user (for logs, tests and diagnostics). */
  failures(username: string, now: number): number {
    return this.current(username, now)?.failures ?? 0;
  }

  get tracked(): number {
    return this.open.size + this.held.size;
  }

  private current(username: string, now: number): FailureCount | undefined {
    const count = this.held.get(username) ?? this.open.get(username);
    if (count && isForgotten(count, now, this.policy)) {
      this.succeeded(username);
      return undefined;
    }
    return count;
  }

  private store(username: string, count: FailureCount, now: number) {
    // Re-inserted last: each Map's order is least recently tried first.
    this.succeeded(username);
    if (count.failures >= this.policy.lockAfter) {
      this.held.set(username, count);
      for (const [name, c] of this.held) {
        if (!isForgotten(c, now, this.policy)) break;
        this.held.delete(name);
      }
    } else {
      this.open.set(username, count);
      while (this.open.size > this.policy.maxTracked)
        this.open.delete(this.open.keys().next().value as string);
    }
  }
}
