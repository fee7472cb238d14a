import { randomBytes } from 'node:crypto';
import { connect, KV, NatsConnection } from 'nats';
import { SESSIONS_BUCKET } from '@plexus/bus';
import { OwnNatsServer } from '../../../test/support/nats-server';
import { openSessionsBucket } from './bucket';
import { SessionDropped, SessionStore, SessionStoreOptions } from './session-store';
import { realmKey } from './realm';
import { sessionIdOf } from './tokens';
import { sleep } from '@plexus/common';

/**
 * Against the real NATS: each store has its own connection, as two processes would. Clocks are
 * injected where the test is about expiry, so nothing here depends on how fast the machine is;
 * what crosses NATS is awaited, never assumed.
 */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const MIN = 60_000;

async function eventually<T>(what: string, probe: () => T | undefined | null | false) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('SessionStore on JetStream KV', () => {
  const connections: NatsConnection[] = [];
  const stores: SessionStore[] = [];
  let kv: KV;
  const realm = (label: string) => `test.${label}.${randomBytes(4).toString('hex')}`;

  /** A store on a connection of its own ("another process"). */
  async function open(options: Partial<SessionStoreOptions> & { realm: string }) {
    const nc = await connect({ servers: NATS_URL, name: 'session-store-int-spec' });
    connections.push(nc);
    const store = await SessionStore.open(nc, { timeoutMs: 30 * MIN, ...options });
    stores.push(store);
    return store;
  }

  beforeAll(async () => {
    const nc = await connect({ servers: NATS_URL, name: 'session-store-int-spec' });
    connections.push(nc);
    kv = await openSessionsBucket(nc);
  });

  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const nc of connections) await nc.close();
  });

  it('a session created by one process is valid on another', async () => {
    const r = realm('share');
    const a = await open({ realm: r });
    const b = await open({ realm: r });

    const { token, session } = await a.create('alice', { cred: 'f1' });

    expect(session).toMatchObject({ user: 'alice', realm: r, attributes: { cred: 'f1' } });
    expect(session.id).toBe(sessionIdOf(token));
    expect(session.expiresAt).toBe(session.createdAt + 30 * MIN);
    expect(await a.validate(token)).toMatchObject({ id: session.id, user: 'alice' });
    // validate() also covers the moment before b's watch has delivered the new session
    expect(await b.validate(token)).toMatchObject({ id: session.id, user: 'alice' });
    await eventually('b caches the session', () => b.lookup(token));
    expect(b.lookup(token)).toMatchObject({ user: 'alice', attributes: { cred: 'f1' } });
  });

  it('refuses tokens it does not know, without storing anything for them', async () => {
    const r = realm('unknown');
    const a = await open({ realm: r });
    const forged = randomBytes(32).toString('base64url');

    expect(a.lookup(forged)).toBeUndefined();
    expect(await a.validate(forged)).toBeNull();
    expect(await a.validate('not-a-token')).toBeNull();
    expect(await a.revoke(forged)).toBe(false);
    expect(await kv.get(`${realmKey(r)}.${sessionIdOf(forged)}`)).toBeNull();
  });

  it('a revoke on one process is seen by the others within moments', async () => {
    const r = realm('revoke');
    const dropped: SessionDropped[] = [];
    const a = await open({ realm: r });
    const b = await open({ realm: r, onDropped: (e) => dropped.push(e) });
    const c = await open({ realm: r });
    const { token, session } = await a.create('alice');
    await eventually('b and c know it', () => b.lookup(token) && c.lookup(token));

    expect(await c.revoke(token)).toBe(true);

    // c refuses at once; the others as soon as the delete reaches their watch
    expect(c.lookup(token)).toBeNull();
    await eventually('a and b drop it', () => a.lookup(token) === null && b.lookup(token) === null);
    expect(await a.validate(token)).toBeNull();
    expect(dropped).toEqual([
      expect.objectContaining({ id: session.id, user: 'alice', realm: r, reason: 'revoked' }),
    ]);
    expect(typeof dropped[0].hrtime).toBe('bigint');
    expect(await c.revoke(token)).toBe(false);
  });

  it('an activity write racing a revoke never brings the session back', async () => {
    const r = realm('race');
    let nowB = Date.now();
    const a = await open({ realm: r });
    const b = await open({ realm: r, timeoutMs: 10_000, now: () => nowB });
    const { token } = await a.create('alice');
    await eventually('b knows it', () => b.lookup(token));

    nowB += 5000; // half the timeout later: b's next check writes the activity
    const revoked = a.revoke(token);
    b.lookup(token);
    await Promise.all([revoked, b.flush()]);

    const stored = await kv.get(`${realmKey(r)}.${sessionIdOf(token)}`);
    expect(stored?.operation).toBe('DEL');
    await eventually('b drops it', () => b.lookup(token) === null);
  });

  it('expires after the idle timeout, sliding with use, as every process sees it', async () => {
    const r = realm('expiry');
    let now = Date.now();
    const clock = () => now;
    const a = await open({ realm: r, timeoutMs: 1000, now: clock });
    const b = await open({ realm: r, timeoutMs: 1000, now: clock });
    const { token, session } = await a.create('alice');
    await eventually('b knows it', () => b.lookup(token));

    // used on a 600 ms later: a writes the activity (more than a tenth of the timeout old)
    now += 600;
    expect(a.lookup(token)?.expiresAt).toBe(session.createdAt + 1600);
    await a.flush();
    await eventually('b sees the activity', () => b.peek(token)?.lastActivityAt === now);

    // 1500 ms after creation, 900 ms after the use: live on both
    now += 900;
    const alice = { id: session.id, user: 'alice', realm: r };
    // a lookup is a use (the timeout slides from now); a peek is not, and a has not heard of it yet
    expect(b.lookup(token)).toMatchObject({
      ...alice,
      lastActivityAt: session.createdAt + 1500,
      expiresAt: session.createdAt + 2500,
    });
    expect(a.peek(token)).toMatchObject({
      ...alice,
      lastActivityAt: session.createdAt + 600,
      expiresAt: session.createdAt + 1600,
    });
    await Promise.all([a.flush(), b.flush()]);

    // a full timeout with no use: refused on both
    now += 1000;
    expect(a.lookup(token)).toBeNull();
    expect(b.lookup(token)).toBeNull();
    expect(await b.validate(token)).toBeNull();
  });

  it('collects expired sessions from the bucket once no process can still hold them', async () => {
    const r = realm('gc');
    let now = Date.now();
    const dropped: SessionDropped[] = [];
    const a = await open({ realm: r, timeoutMs: 1000, now: () => now });
    const b = await open({
      realm: r,
      timeoutMs: 1000,
      now: () => now,
      onDropped: (e) => dropped.push(e),
    });
    const { token } = await a.create('alice');
    await eventually('b knows it', () => b.lookup(token));
    const key = `${realmKey(r)}.${sessionIdOf(token)}`;

    now += 1050; // expired, but within a touch interval of the timeout: kept
    await a.sweep();
    expect((await kv.get(key))?.operation).toBe('PUT');

    now += 100;
    await Promise.all([a.sweep(), b.sweep()]);
    expect((await kv.get(key))?.operation).toBe('PURGE');
    await eventually('b drops it', () => b.size === 0 && dropped.length === 1);
    expect(dropped[0].reason).toBe('expired');
  });

  it('a timeout change applies to existing sessions', async () => {
    const r = realm('timeout');
    let now = Date.now();
    const a = await open({ realm: r, timeoutMs: 30 * MIN, now: () => now });
    const { token } = await a.create('alice');

    now += 5 * MIN;
    a.setTimeoutMs(2 * MIN);
    expect(a.lookup(token)).toBeNull();
    expect(a.timeoutMs).toBe(2 * MIN);
  });

  it('keeps realms apart', async () => {
    const r1 = realm('one');
    const r2 = realm('two');
    const one = await open({ realm: r1 });
    const two = await open({ realm: r2 });
    const { token } = await one.create('alice');

    expect(await two.validate(token)).toBeNull();
    expect(await two.revoke(token)).toBe(false);
    expect(two.size).toBe(0);
    expect(await one.validate(token)).toMatchObject({ user: 'alice', realm: r1 });
  });

  it('sessions outlive the process that made them', async () => {
    const r = realm('outlive');
    const a = await open({ realm: r });
    const { token } = await a.create('alice');
    await a.close();
    await connections[connections.length - 1].close();

    const later = await open({ realm: r });
    // loaded by the watch before open() resolved: no lookup needed
    expect(later.lookup(token)).toMatchObject({ user: 'alice' });
  });

  it('a store opened later forgets nothing and resurrects nothing', async () => {
    const r = realm('resync');
    const a = await open({ realm: r });
    const kept = await a.create('alice');
    const gone = await a.create('bob');
    await a.revoke(gone.token);

    const b = await open({ realm: r });
    expect(b.lookup(kept.token)).toMatchObject({ user: 'alice' });
    expect(b.lookup(gone.token)).toBeNull();
    expect(b.size).toBe(1);
  });

  it('the bucket holds nothing a reader could log in with', async () => {
    const r = realm('secret');
    const a = await open({ realm: r });
    const { token } = await a.create('alice', { cred: 'fp' });
    await a.flush();

    const keys: string[] = [];
    for await (const k of await kv.keys(`${realmKey(r)}.>`)) keys.push(k);
    expect(keys).toEqual([`${realmKey(r)}.${sessionIdOf(token)}`]);
    const value = (await kv.get(keys[0]))!.string();
    expect(value).not.toContain(token);
    expect(keys[0]).not.toContain(token);
    expect(JSON.parse(value)).toEqual({
      v: 1,
      user: 'alice',
      createdAt: expect.any(Number),
      activeAt: expect.any(Number),
      attributes: { cred: 'fp' },
    });
    expect((await kv.status()).bucket).toBe(SESSIONS_BUCKET);
  });

  describe('across a NATS restart', () => {
    let server: OwnNatsServer;
    const own: { nc: NatsConnection; store: SessionStore }[] = [];

    beforeAll(async () => {
      server = await OwnNatsServer.start();
    });

    afterAll(async () => {
      // Closed while their server still runs: a connection to a killed server keeps reconnecting.
      for (const { store, nc } of own) {
        await store.close();
        await nc.close();
      }
      await server?.dispose();
    });

    it('keeps serving known sessions while NATS is down, and sees revokes once it is back', async () => {
      const r = realm('restart');
      const on = async () => {
        const nc = await connect({
          servers: server.url,
          name: 'session-store-int-spec',
          maxReconnectAttempts: -1,
          reconnectTimeWait: 100,
        });
        const store = await SessionStore.open(nc, {
          realm: r,
          timeoutMs: 30 * MIN,
          requestTimeoutMs: 1000,
        });
        own.push({ nc, store });
        return store;
      };
      const a = await on();
      const b = await on();
      const { token } = await a.create('alice');
      await eventually('b knows it', () => b.lookup(token));

      await server.stopProcess();
      expect(b.lookup(token)).toMatchObject({ user: 'alice' });
      await expect(a.create('bob')).rejects.toThrow();

      await server.startProcess();
      // a's revoke is retried until NATS answers; b's watch is re-opened after the reconnect
      for (let revoked = false; !revoked;) {
        revoked = await a.revoke(token).then(
          () => true,
          () => sleep(100).then(() => false),
        );
      }
      await eventually('b drops the revoked session', () => b.lookup(token) === null);
    }, 30_000);
  });
});
