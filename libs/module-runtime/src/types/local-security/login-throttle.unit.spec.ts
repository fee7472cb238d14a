import { DEFAULT_THROTTLE, LoginThrottle } from './login-throttle';

/** Runs `n` failed attempts at time `at`; returns the decisions. */
function fail(t: LoginThrottle, user: string, n: number, at = 0) {
  return Array.from({ length: n }, () => t.begin(user, at));
}

describe('LoginThrottle', () => {
  it('answers the first failures at once, then slower, then refuses with a retry time', () => {
    const t = new LoginThrottle();
    expect(fail(t, 'alice', 6)).toEqual([
      { allowed: true, delayMs: 0 },
      { allowed: true, delayMs: 0 },
      { allowed: true, delayMs: 0 },
      { allowed: true, delayMs: 500 },
      { allowed: true, delayMs: 1000 },
      { allowed: false, retryAfterMs: 30_000 },
    ]);
    expect(t.check('alice', 10_000)).toEqual({ allowed: false, retryAfterMs: 20_000 });
  });

  it('lets one attempt through when the lock has passed, and locks twice as long after it fails', () => {
    const t = new LoginThrottle();
    fail(t, 'alice', 5);
    expect(t.begin('alice', 30_000)).toEqual({ allowed: true, delayMs: 2000 });
    expect(t.begin('alice', 30_001)).toEqual({ allowed: false, retryAfterMs: 59_999 });
    expect(t.failures('alice', 30_001)).toBe(6);
  });

  it('caps the lock', () => {
    const t = new LoginThrottle();
    let now = 0;
    for (let i = 0; i < 20; i++) {
      const d = t.begin('alice', now);
      now += d.allowed ? 1 : d.retryAfterMs;
    }
    const d = t.check('alice', now - 1);
    expect(!d.allowed && d.retryAfterMs).toBeLessThanOrEqual(DEFAULT_THROTTLE.maxLockMs);
  });

  it('does not count refused attempts, so a lock does not grow while it holds', () => {
    const t = new LoginThrottle();
    fail(t, 'alice', 5);
    fail(t, 'alice', 50, 1000);
    expect(t.failures('alice', 1000)).toBe(5);
  });

  it('counts attempts under way, so parallel guesses are throttled too', () => {
    const t = new LoginThrottle();
    // ten attempts begun before any finished
    const decisions = fail(t, 'alice', 10);
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
  });

  it('forgets a user after a success', () => {
    const t = new LoginThrottle();
    fail(t, 'alice', 4);
    t.succeeded('alice');
    expect(t.check('alice', 0)).toEqual({ allowed: true, delayMs: 0 });
  });

  it('forgets failures after a quiet period, but not while locked', () => {
    const t = new LoginThrottle({
      ...DEFAULT_THROTTLE,
      maxLockMs: 60 * 60_000,
      baseLockMs: 60 * 60_000,
    });
    fail(t, 'alice', 4);
    expect(t.failures('alice', DEFAULT_THROTTLE.forgetAfterMs + 1)).toBe(0);
    fail(t, 'bob', 5);
    expect(t.check('bob', DEFAULT_THROTTLE.forgetAfterMs + 1).allowed).toBe(false);
  });

  it('treats every user name alike, and each separately', () => {
    const t = new LoginThrottle();
    fail(t, 'no-such-user', 5);
    expect(t.check('no-such-user', 0).allowed).toBe(false);
    expect(t.check('alice', 0)).toEqual({ allowed: true, delayMs: 0 });
  });

  it('tracks a bounded number of user names below the lock, forgetting the least recently tried', () => {
    const t = new LoginThrottle({ ...DEFAULT_THROTTLE, maxTracked: 3 });
    for (const u of ['a', 'b', 'c']) fail(t, u, 2);
    fail(t, 'a', 1, 1); // "a" was tried again after the others
    fail(t, 'd', 1, 2);
    expect(t.tracked).toBe(3);
    expect(t.failures('b', 2)).toBe(0);
    expect(t.failures('a', 2)).toBe(3);
  });

  it('never forgets a locked user for a flood of other names', () => {
    const t = new LoginThrottle(); // the default number of tracked names
    fail(t, 'alice', 5);
    for (let i = 0; i <= DEFAULT_THROTTLE.maxTracked * 2; i++) t.begin(`flood-${i}`, 1);
    expect(t.check('alice', 2)).toEqual({ allowed: false, retryAfterMs: 29_998 });
    expect(t.failures('alice', 2)).toBe(5);
    // once its lock has passed it still counts (the next failure locks twice as long) until forgotten
    for (let i = 0; i <= DEFAULT_THROTTLE.maxTracked * 2; i++) t.begin(`later-${i}`, 40_000);
    expect(t.begin('alice', 40_001)).toEqual({ allowed: true, delayMs: 2000 });
    expect(t.check('alice', 40_002)).toEqual({ allowed: false, retryAfterMs: 59_999 });
  });

  it("adopts another process's count, so a fallback starts from what the realm knew", () => {
    const t = new LoginThrottle();
    t.adopt('alice', { failures: 5, lastAttemptAt: 0, lockedUntil: 30_000 });
    expect(t.check('alice', 10_000)).toEqual({ allowed: false, retryAfterMs: 20_000 });
    t.adopt('alice', undefined); // the realm forgot it (a success elsewhere)
    expect(t.check('alice', 10_000)).toEqual({ allowed: true, delayMs: 0 });
  });
});
