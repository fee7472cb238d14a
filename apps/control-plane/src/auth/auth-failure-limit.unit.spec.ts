import { AuthFailureLimit } from './auth-failure-limit';

const A = '198.51.100.7';
const B = '2001:db8::1';

const failTimes = (limit: AuthFailureLimit, client: string, times: number, now: number) => {
  for (let i = 0; i < times; i++) limit.failed(client, now);
};

describe('AuthFailureLimit', () => {
  it('refuses a client from its Nth failure until the window that began at its first one ends', () => {
    const limit = new AuthFailureLimit({ limit: 3, windowMs: 60_000 });
    failTimes(limit, A, 2, 1_000);
    expect(limit.retryAfterSeconds(A, 1_000)).toBe(0);
    limit.failed(A, 10_000);
    // The window began at 1 s and lasts 60 s: 51 s are left.
    expect(limit.retryAfterSeconds(A, 10_000)).toBe(51);
    expect(limit.retryAfterSeconds(A, 60_500)).toBe(1);
    expect(limit.retryAfterSeconds(A, 61_000)).toBe(0);
    // A fresh window: one more failure does not refuse it.
    limit.failed(A, 61_000);
    expect(limit.retryAfterSeconds(A, 61_000)).toBe(0);
  });

  it('forgets failures older than the window', () => {
    const limit = new AuthFailureLimit({ limit: 3, windowMs: 1_000 });
    failTimes(limit, A, 2, 0);
    failTimes(limit, A, 2, 1_000);
    expect(limit.retryAfterSeconds(A, 1_000)).toBe(0);
    limit.failed(A, 1_999);
    expect(limit.retryAfterSeconds(A, 1_999)).toBe(1);
  });

  it('counts each client address on its own', () => {
    const limit = new AuthFailureLimit({ limit: 2, windowMs: 60_000 });
    failTimes(limit, A, 2, 0);
    expect(limit.retryAfterSeconds(A, 0)).toBe(60);
    expect(limit.retryAfterSeconds(B, 0)).toBe(0);
    limit.failed(B, 0);
    expect(limit.retryAfterSeconds(B, 0)).toBe(0);
  });

  it('never refuses anyone with limit 0', () => {
    const limit = new AuthFailureLimit({ limit: 0, windowMs: 60_000 });
    failTimes(limit, A, 1000, 0);
    expect(limit.retryAfterSeconds(A, 0)).toBe(0);
    expect(limit.size).toBe(0);
  });

  it('remembers at most maxClients addresses, dropping ended windows first, then the oldest', () => {
    const limit = new AuthFailureLimit({ limit: 1, windowMs: 1_000, maxClients: 3 });
    limit.failed('10.0.0.1', 0);
    limit.failed('10.0.0.2', 500);
    limit.failed('10.0.0.3', 600);
    // 10.0.0.1's window has ended by 1 s: it goes, the others stay refused.
    limit.failed('10.0.0.4', 1_000);
    expect(limit.size).toBe(3);
    expect(limit.retryAfterSeconds('10.0.0.2', 1_000)).toBe(1);
    // All live: the oldest (10.0.0.2) makes room.
    limit.failed('10.0.0.5', 1_100);
    expect(limit.size).toBe(3);
    expect(limit.retryAfterSeconds('10.0.0.2', 1_100)).toBe(0);
    expect(limit.retryAfterSeconds('10.0.0.3', 1_100)).toBe(1);
    expect(limit.retryAfterSeconds('10.0.0.5', 1_100)).toBe(1);
  });
});
