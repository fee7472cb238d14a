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
 */
export interface ThrottlePolicy {
  slowAfter: number;
  lockAfter: number;
  baseDelayMs: number;
  maxDelayMs: number;
  baseLockMs: number;
  maxLockMs: number;
  forgetAfterMs: number;
  /** Most user names tracked at once; the least recently tried are forgotten first. */
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

interface UserState {
  failures: number;
  lastAttemptAt: number;
  lockedUntil: number;
}

export class LoginThrottle {
  private readonly users = new Map<string, UserState>();

  constructor(readonly policy: ThrottlePolicy = DEFAULT_THROTTLE) {}

  /** How the next attempt for `username` would be treated, without recording anything. */
  check(username: string, now: number): ThrottleDecision {
    return this.decide(this.current(username, now), now);
  }

  /**
   * Starts an attempt: when allowed, counts it as failed until succeeded() is called, and says
   * how long to wait before answering.
   */
  begin(username: string, now: number): ThrottleDecision {
    const state = this.current(username, now) ?? {
      failures: 0,
      lastAttemptAt: now,
      lockedUntil: 0,
    };
    const decision = this.decide(state, now);
    if (!decision.allowed) return decision;
    state.failures++;
    state.lastAttemptAt = now;
    if (state.failures >= this.policy.lockAfter)
      state.lockedUntil = now + this.lockMs(state.failures);
    this.users.delete(username); // re-inserted last: the Map's order is least recently tried first
    this.users.set(username, state);
    while (this.users.size > this.policy.maxTracked) {
      const oldest = this.users.keys().next().value as string;
      this.users.delete(oldest);
    }
    return decision;
  }

  /** The attempt succeeded: forget the user's failures. */
  succeeded(username: string) {
    this.users.delete(username);
  }

  /** Failed attempts counted for a user (for tests and diagnostics). */
  failures(username: string, now: number): number {
    return this.current(username, now)?.failures ?? 0;
  }

  get tracked(): number {
    return this.users.size;
  }

  private current(username: string, now: number): UserState | undefined {
    const state = this.users.get(username);
    if (!state) return undefined;
    if (now >= state.lockedUntil && now - state.lastAttemptAt > this.policy.forgetAfterMs) {
      this.users.delete(username);
      return undefined;
    }
    return state;
  }

  private decide(state: UserState | undefined, now: number): ThrottleDecision {
    const f = state?.failures ?? 0;
    const p = this.policy;
    if (state && f >= p.lockAfter && now < state.lockedUntil)
      return { allowed: false, retryAfterMs: state.lockedUntil - now };
    if (f < p.slowAfter) return { allowed: true, delayMs: 0 };
    const delayMs = Math.min(p.baseDelayMs * 2 ** Math.min(f - p.slowAfter, 30), p.maxDelayMs);
    return { allowed: true, delayMs };
  }

  private lockMs(failures: number): number {
    const p = this.policy;
    return Math.min(p.baseLockMs * 2 ** Math.min(failures - p.lockAfter, 30), p.maxLockMs);
  }
}
