import {
  isRevisionConflict,
  leaseDeadline,
  leaseIsFree,
  leaseTimings,
  LEASES_BUCKET_OPTIONS,
  SINGLE_MODULE_STOP_TIMEOUT_MS,
} from './module-leases';
import { moduleLeaseKey } from './names';

describe('lease timings', () => {
  it('renews well before the deadline, and the deadline leaves a margin before the lease lapses', () => {
    // given the default lease time (the failure detector's 3 s)
    const t = leaseTimings(LEASES_BUCKET_OPTIONS.ttl);
    // then a holder renews every second and must have renewed within 2 s of its last write
    expect(t).toEqual({
      leaseMs: 3000,
      renewMs: 1000,
      marginMs: 1000,
      pollMs: 200,
      requestTimeoutMs: 500,
    });
    expect(leaseDeadline(10_000, t)).toBe(12_000);
    // and two renewals may fail before the deadline passes
    expect(leaseDeadline(0, t) - 2 * t.renewMs).toBeGreaterThanOrEqual(0);
  });

  it('gives up a lease at least the stop timeout of a single module before it could lapse', () => {
    // the default: the stop timeout the host gives single modules fits in the default margin
    expect(leaseTimings(LEASES_BUCKET_OPTIONS.ttl).marginMs).toBeGreaterThanOrEqual(
      SINGLE_MODULE_STOP_TIMEOUT_MS,
    );
    for (const stopTimeoutMs of [0, 500, 1000, 1500, 2000]) {
      const t = leaseTimings(3000, stopTimeoutMs);
      // a holder that stops its module at the deadline is done before anyone else may start it
      expect(t.marginMs).toBeGreaterThanOrEqual(stopTimeoutMs);
      expect(leaseDeadline(0, t) + stopTimeoutMs).toBeLessThanOrEqual(t.leaseMs);
      // and two renewals may still fail before the deadline passes
      expect(leaseDeadline(0, t)).toBeGreaterThanOrEqual(2 * t.renewMs);
      expect(t.requestTimeoutMs).toBeLessThanOrEqual(t.renewMs);
    }
  });

  it('refuses a stop timeout that leaves no time to renew the lease', () => {
    expect(() => leaseTimings(3000, 2800)).toThrow(
      /a stop timeout of 2800 ms for single modules needs a lease of at least 3200 ms \(the plexus-leases bucket's max age is 3000 ms\)/,
    );
  });

  it('refuses a bucket whose max age is too short (or none) to hold a lease safely', () => {
    expect(() => leaseTimings(0)).toThrow(
      /plexus-leases bucket needs a max age of at least 600 ms/,
    );
    expect(() => leaseTimings(100)).toThrow(/it has 100 ms/);
  });
});

describe('lease keys and entries', () => {
  it('gives every (node, module) pair its own valid key, dotted IDs included', () => {
    const pairs = [
      ['a.b', 'c'],
      ['a', 'b.c'],
      ['.a', 'b'],
      ['a.', 'b'],
      ['a..b', 'c.'],
    ];
    const keys = pairs.map(([n, m]) => moduleLeaseKey(n, m));
    expect(new Set(keys).size).toBe(pairs.length);
    for (const key of keys) expect(key).toMatch(/^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/);
  });

  it('puts the node first, as a token of its own, so a permission can grant a node its leases', () => {
    expect(moduleLeaseKey('fhir_node', 'index')).toBe('fhir_node.index');
    expect(moduleLeaseKey('a.b', 'c.d')).toBe('a=b.c=d');
    // "$KV.plexus-leases.<node>.>" matches this node's keys and no other node's
    for (const [n, m] of [
      ['a', 'b.c'],
      ['a.b', 'c'],
    ]) {
      const tokens = moduleLeaseKey(n, m).split('.');
      expect(tokens).toHaveLength(2);
      expect(tokens[0]).toBe(n.replace(/\./g, '='));
    }
  });

  it('treats a missing, deleted or purged key as free and a stored one as held', () => {
    expect(leaseIsFree(null)).toBe(true);
    expect(leaseIsFree({ operation: 'DEL' })).toBe(true);
    expect(leaseIsFree({ operation: 'PURGE' })).toBe(true);
    expect(leaseIsFree({ operation: 'PUT' })).toBe(false);
  });

  it('recognizes a refused revision-checked write', () => {
    expect(isRevisionConflict({ api_error: { err_code: 10071 } })).toBe(true);
    expect(isRevisionConflict(new Error('wrong last sequence: 41'))).toBe(true);
    expect(isRevisionConflict(new Error('TIMEOUT'))).toBe(false);
    expect(isRevisionConflict(null)).toBe(false);
  });
});
