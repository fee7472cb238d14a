import { createHash } from 'node:crypto';
import {
  decodeRecord,
  defaultRealm,
  encodeRecord,
  expiresAt,
  isGarbage,
  isLive,
  isWellFormedToken,
  MAX_TOUCH_INTERVAL_MS,
  minutesToMs,
  needsTouch,
  newSessionToken,
  realmKey,
  realmProblem,
  sessionIdOf,
  touchIntervalMs,
} from './index';

describe('session tokens', () => {
  it('are 32 random bytes in base64url, different every time', () => {
    const tokens = Array.from({ length: 100 }, newSessionToken);
    expect(new Set(tokens).size).toBe(100);
    for (const t of tokens) {
      expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t, 'base64url')).toHaveLength(32);
      expect(isWellFormedToken(t)).toBe(true);
    }
  });

  it('refuses anything else without a lookup', () => {
    for (const bad of [
      '',
      'abc',
      `${newSessionToken()}x`,
      `${newSessionToken().slice(1)}=`,
      'a'.repeat(42) + '!',
    ])
      expect(isWellFormedToken(bad)).toBe(false);
  });

  it('are known to the store only by their SHA-256, which is a valid key token', () => {
    const token = newSessionToken();
    const id = sessionIdOf(token);
    expect(id).toBe(sessionIdOf(token));
    expect(id).toBe(createHash('sha256').update(token).digest('base64url'));
    expect(id).not.toBe(token);
    expect(id).not.toContain(token.slice(0, 10));
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('realms', () => {
  it('default to node/module', () => {
    expect(defaultRealm('fhir.node', 'local_security')).toBe('fhir.node/local_security');
  });

  it('become one key token: "." as "=", which realms never contain', () => {
    expect(realmKey('fhir.node/local_security')).toBe('fhir=node/local_security');
    expect(realmKey('corp-sso')).toBe('corp-sso');
    expect(realmKey('a.b')).not.toBe(realmKey('a_b'));
    expect(realmProblem('a=b')).toMatch(/realm must be/);
  });

  it.each(['', 'has space', 'x*', 'x>', 'a'.repeat(101), 'ü'])('refuses %j', (realm) => {
    expect(realmProblem(realm)).toMatch(/realm must be 1-100 characters/);
    expect(() => realmKey(realm)).toThrow(/realm must be/);
  });
});

describe('sliding expiry', () => {
  const timeout = 30 * 60_000;

  it('converts fractional minutes', () => {
    expect(minutesToMs(30)).toBe(1_800_000);
    expect(minutesToMs(0.05)).toBe(3000);
    expect(minutesToMs(1.5)).toBe(90_000);
  });

  it('writes activity every tenth of the timeout, at most every minute', () => {
    expect(touchIntervalMs(3000)).toBe(300);
    expect(touchIntervalMs(5 * 60_000)).toBe(30_000);
    expect(touchIntervalMs(timeout)).toBe(MAX_TOUCH_INTERVAL_MS);
  });

  it('expires `timeout` after the latest activity, stored or seen here', () => {
    const t = { activeAt: 1000, localActiveAt: 0 };
    expect(expiresAt(t, timeout)).toBe(1000 + timeout);
    expect(isLive(t, 1000 + timeout - 1, timeout)).toBe(true);
    expect(isLive(t, 1000 + timeout, timeout)).toBe(false);
    const seenHere = { activeAt: 1000, localActiveAt: 50_000 };
    expect(expiresAt(seenHere, timeout)).toBe(50_000 + timeout);
    expect(isLive(seenHere, 1000 + timeout + 10, timeout)).toBe(true);
  });

  it('touches the store only once the stored activity is a touch interval old', () => {
    const t = { activeAt: 0, localActiveAt: 0 };
    expect(needsTouch(t, 59_999, timeout)).toBe(false);
    expect(needsTouch(t, 60_000, timeout)).toBe(true);
    expect(needsTouch(t, 299, 3000)).toBe(false);
    expect(needsTouch(t, 300, 3000)).toBe(true);
  });

  it('collects a session only when no process can still hold later activity', () => {
    // activity seen elsewhere is at most a touch interval later than the stored one
    expect(isGarbage(0, timeout, timeout)).toBe(false);
    expect(isGarbage(0, timeout + 60_000, timeout)).toBe(false);
    expect(isGarbage(0, timeout + 60_001, timeout)).toBe(true);
    expect(isGarbage(0, 3300, 3000)).toBe(false);
    expect(isGarbage(0, 3301, 3000)).toBe(true);
  });
});

describe('session records', () => {
  it('round-trip and keep only string attributes', () => {
    const r = {
      v: 1 as const,
      user: 'alice',
      createdAt: 1,
      activeAt: 2,
      attributes: { cred: 'x' },
    };
    expect(decodeRecord(encodeRecord(r))).toEqual(r);
    expect(
      decodeRecord(JSON.stringify({ ...r, attributes: { a: 'b', n: 1 } }))?.attributes,
    ).toEqual({ a: 'b' });
  });

  it.each(['', 'null', '{}', '[1]', '{"v":2,"user":"a","createdAt":1,"activeAt":1}', 'not json'])(
    'ignores %j',
    (text) => expect(decodeRecord(text)).toBeNull(),
  );
});
