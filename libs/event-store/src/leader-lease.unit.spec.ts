import { DEFAULT_LEADER_LEASE_MS, leaseTimings, LeaseValidity } from './leader-lease';

describe('lease timings', () => {
  it('renew three times per lease, try to take it at least every second, and step down a fifth early', () => {
    expect(leaseTimings(DEFAULT_LEADER_LEASE_MS)).toEqual({
      leaseMs: 5000,
      renewEveryMs: 1666,
      marginMs: 1000,
      acquireEveryMs: 1000,
    });
    const t = leaseTimings(1200);
    expect(t.acquireEveryMs).toBe(400);
    // two renewals fit in the time the holder counts itself leader
    expect(2 * t.renewEveryMs).toBeLessThan(t.leaseMs - t.marginMs);
  });
});

describe('lease validity (monotonic clock)', () => {
  const validity = () => new LeaseValidity(leaseTimings(5000));

  it('is valid until the renewal was sent plus the lease, minus the margin', () => {
    const v = validity();
    expect(v.isValid(0)).toBe(false);
    v.renewed(1000);
    expect(v.isValid(1000)).toBe(true);
    expect(v.isValid(4999)).toBe(true);
    expect(v.isValid(5000)).toBe(false); // 1000 + 5000 - 1000
    expect(v.remaining(2000)).toBe(3000);
    expect(v.remaining(9000)).toBe(0);
  });

  it('counts from when a renewal was sent, so a renewal answered after a freeze is already lapsed', () => {
    const v = validity();
    v.renewed(1000);
    // the process was frozen from 1500 to 60000; the answer to the renewal sent at 1000 arrives now
    expect(v.isValid(60_000)).toBe(false);
  });

  it('lapses at once when leadership is given up', () => {
    const v = validity();
    v.renewed(1000);
    v.lapse();
    expect(v.isValid(1001)).toBe(false);
  });
});
