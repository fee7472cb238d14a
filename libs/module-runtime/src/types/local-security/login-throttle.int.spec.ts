import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { OwnNatsServer } from '../../../../../test/support/nats-server';
import { moduleContext } from '../../testing/module-context';
import { localSecurityTypeWith } from './local-security.module-type';
import { DEFAULT_THROTTLE } from './login-throttle';
import { hashPassword } from './passwords';
import { isUsernamePasswordSecurity, UsernamePasswordSecurity } from './security-provider';

/**
 * Two local-security modules of one realm, each with a NATS connection of its own (two processes
 * of a node, as far as the throttle can tell), against the real NATS: failed logins count on every
 * process of the realm.
 */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
/** The local cache tracks few names, so that a flood is cheap to make. */
const POLICY = { ...DEFAULT_THROTTLE, maxTracked: 10 };

describe('failed logins counted across the processes of a realm (real NATS)', () => {
  const connections: NatsConnection[] = [];
  const modules: UsernamePasswordSecurity[] = [];
  let a: UsernamePasswordSecurity;
  let b: UsernamePasswordSecurity;

  let users: string;

  async function startProcess(
    i: number,
    nodeId: string,
    config: Record<string, string>,
    servers = NATS_URL,
  ) {
    const nc = await connect({
      servers,
      name: `login-throttle-int-${i}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    connections.push(nc);
    const ctx = moduleContext(config, {
      nodeId,
      processId: `p${i}`,
      moduleId: 'security',
      logger: quiet,
      services: { nats: nc },
    });
    const instance = await localSecurityTypeWith({ throttle: POLICY }).start(ctx);
    if (!isUsernamePasswordSecurity(instance)) throw new Error('not a security module');
    modules.push(instance);
    return { instance, nc };
  }

  beforeAll(async () => {
    const cheap = { N: 1024 };
    users = [
      `alice:${await hashPassword('alice-pw', cheap)}`,
      `bob:${await hashPassword('bob-pw', cheap)}`,
      `carol:${await hashPassword('carol-pw', cheap)}`,
      `dave:${await hashPassword('dave-pw', cheap)}`,
    ].join(';');
    // one realm, shared by two nodes' modules (as sessions are)
    const config = { users, 'sessions.realm': `throttle-${randomBytes(4).toString('hex')}` };
    a = (await startProcess(0, 'throttle-a', config)).instance;
    b = (await startProcess(1, 'throttle-b', config)).instance;
  });

  afterAll(async () => {
    for (const m of modules) await m.stop().catch(() => undefined);
    for (const nc of connections) if (!nc.isClosed()) await nc.close();
  });

  it('failures spread over two processes lock the user on both', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < POLICY.lockAfter; i++)
      outcomes.push((await [a, b][i % 2].login('bob', 'wrong')).outcome);
    expect(outcomes).toEqual(Array(POLICY.lockAfter).fill('invalid'));

    // locked everywhere, even with the right password; 429 with a retry time follows from this
    for (const p of [a, b])
      expect(await p.login('bob', 'bob-pw')).toEqual({
        outcome: 'throttled',
        retryAfterMs: expect.any(Number),
      });
    const refused = await b.login('bob', 'bob-pw');
    expect(refused.outcome === 'throttled' && refused.retryAfterMs).toBeGreaterThan(
      POLICY.baseLockMs - 5000,
    );
    // other users are not affected
    expect((await a.login('alice', 'alice-pw')).outcome).toBe('ok');
  });

  it('two processes racing lose no count: parallel failures on both lock the user', async () => {
    const racing = Array.from({ length: POLICY.lockAfter }, (_, i) =>
      [a, b][i % 2].login('carol', 'wrong'),
    );
    expect((await Promise.all(racing)).map((o) => o.outcome)).toEqual(
      Array(POLICY.lockAfter).fill('invalid'),
    );
    expect((await a.login('carol', 'carol-pw')).outcome).toBe('throttled');
    expect((await b.login('carol', 'carol-pw')).outcome).toBe('throttled');
  });

  it('a flood of other user names does not unlock a locked user', async () => {
    for (let i = 0; i < POLICY.lockAfter; i++) await a.login('dave', 'wrong');
    expect((await b.login('dave', 'dave-pw')).outcome).toBe('throttled');

    // many more names than the local cache tracks, through both processes
    const names = Array.from({ length: POLICY.maxTracked * 3 }, (_, i) => `flood-${i}`);
    for (let i = 0; i < names.length; i += 10)
      await Promise.all(
        names.slice(i, i + 10).map((name, j) => [a, b][j % 2].login(name, 'guess')),
      );

    for (const p of [a, b]) expect((await p.login('dave', 'dave-pw')).outcome).toBe('throttled');
  }, 60_000);

  describe('while NATS is down', () => {
    let server: OwnNatsServer;
    let serverDown = false;
    const own: Awaited<ReturnType<typeof startProcess>>[] = [];

    beforeAll(async () => {
      server = await OwnNatsServer.start();
    });
    afterAll(async () => {
      // Closed while their server runs: a connection to a killed server keeps reconnecting.
      if (serverDown) await server.startProcess();
      for (const { instance, nc } of own) {
        await instance.stop();
        await nc.close();
      }
      await server?.dispose();
    });

    it("keeps answering, throttling on the process's own counts, and shares counts again once NATS is back", async () => {
      const config = { users, 'sessions.realm': 'outage' };
      own.push(await startProcess(2, 'throttle-outage', config, server.url));
      own.push(await startProcess(3, 'throttle-outage', config, server.url));
      const [p, q] = own.map((o) => o.instance);
      expect((await q.login('alice', 'wrong')).outcome).toBe('invalid'); // counted in NATS

      await server.stopProcess();
      serverDown = true;
      // fail open, not closed: wrong passwords are still told apart from a lock ...
      const outcomes: string[] = [];
      for (let i = 0; i <= POLICY.lockAfter; i++)
        outcomes.push((await p.login('alice', 'wrong')).outcome);
      // ... and this process locks the user on its own counts
      expect(outcomes).toEqual([...Array(POLICY.lockAfter).fill('invalid'), 'throttled']);
      // a right password needs the session store, which needs NATS: not a throttle answer
      await expect(p.login('bob', 'bob-pw')).rejects.toThrow();

      await server.startProcess();
      serverDown = false;
      // Both processes back on NATS (a flush succeeds once reconnected; it fails while not):
      // waiting for p alone let q count its failures locally while still reconnecting.
      const reconnected = async (nc: (typeof own)[number]['nc']) => {
        for (let i = 0; ; i++) {
          try {
            return await nc.flush();
          } catch (err) {
            if (i === 150) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      };
      await Promise.all(own.map(({ nc }) => reconnected(nc)));
      // back on the realm's count (q's 1; failures counted during the outage stay where they were)
      let back = await p.login('alice', 'wrong');
      for (let i = 0; back.outcome !== 'invalid' && i < 150; i++) {
        await new Promise((r) => setTimeout(r, 100));
        back = await p.login('alice', 'wrong');
      }
      expect(back.outcome).toBe('invalid');
      for (let i = 2; i < POLICY.lockAfter; i++)
        expect((await q.login('alice', 'wrong')).outcome).toBe('invalid');
      expect((await p.login('alice', 'wrong')).outcome).toBe('throttled');
    }, 60_000);
  });
});
