import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { connect, NatsConnection } from 'nats';
import { ModuleSpec, NodeDocument } from '@plexus/domain';
import { freePort } from '../../../../../test/support/ports';
import { builtInModuleTypes } from '../../built-in-types';
import { ModuleHost } from '../../host/module-host';
import { hashPassword } from './passwords';
import { isUsernamePasswordSecurity } from './security-provider';
import { sleep } from '@plexus/common';

/**
 * local-security and http-endpoint run by ModuleHosts in this process, one NATS connection per
 * host (as two worker processes of a node would have), against the real NATS.
 */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A port P with P + 1 free too (the second host listens on offset 1). */
async function freePair(): Promise<number> {
  for (;;) {
    const p = await freePort();
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p + 1, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free && p < 65535) return p;
  }
}

async function call(
  port: number,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string } = {},
) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined || opts.raw !== undefined
        ? { 'content-type': 'application/json' }
        : {}),
    },
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

describe('local-security with http-endpoint (ModuleHost, real NATS)', () => {
  const nodeId = `ls-${randomBytes(4).toString('hex')}`;
  const connections: NatsConnection[] = [];
  const hosts: ModuleHost[] = [];
  let port: number;
  let openPort: number;
  let users: string;
  let version = 1;
  const offsets = [0, 1];

  const security = (config: Record<string, string>): ModuleSpec => ({
    moduleId: 'security',
    type: 'local-security',
    config,
    requires: {},
    enabled: true,
    activation: 'all',
    generation: 0,
  });
  const web = (moduleId: string, p: number, requires: Record<string, string>): ModuleSpec => ({
    moduleId,
    type: 'http-endpoint',
    config: { port: String(p), message: 'hi' },
    requires,
    enabled: true,
    activation: 'all',
    generation: 0,
  });
  const document = (securityConfig: Record<string, string>): NodeDocument => ({
    nodeId,
    version: version++,
    archived: false,
    properties: {},
    modules: [
      security(securityConfig),
      web('web', port, { SECURITY_IN_UP: 'security' }),
      web('open', openPort, {}),
    ],
  });
  const applyEverywhere = async (doc: NodeDocument) => {
    const results = await Promise.all(hosts.map((h) => h.apply(doc)));
    for (const r of results) expect(r?.ok).toBe(true);
  };
  const login = (i: number, username: string, password: string) =>
    call(port + offsets[i], 'POST', '/login', { body: { username, password } });

  beforeAll(async () => {
    port = await freePair();
    openPort = await freePair();
    const cheap = { N: 1024 };
    users = [
      `alice:${await hashPassword('alice-pw', cheap)}`,
      `bob:${await hashPassword('bob-pw', cheap)}`,
      `carol:${await hashPassword('carol-pw', cheap)}`,
    ].join(';');
    const registry = builtInModuleTypes();
    for (const [i, offset] of offsets.entries()) {
      const nc = await connect({ servers: NATS_URL, name: `local-security-int-${i}` });
      connections.push(nc);
      hosts.push(
        new ModuleHost({
          registry,
          nodeId,
          processId: `p${i}`,
          portOffset: offset,
          logger: quiet,
          services: { nats: nc },
        }),
      );
    }
    await applyEverywhere(document({ users }));
  });

  afterAll(async () => {
    for (const h of hosts) await h.stopAll();
    for (const nc of connections) await nc.close();
  });

  it('answers 401 without a session, but keeps the health check open', async () => {
    const res = await call(port, 'GET', '/');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${nodeId}/web"`);
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'a live session is required: POST /login, then send Authorization: Bearer <token>',
    });
    expect((await call(port, 'GET', '/nope')).status).toBe(401);
    expect((await call(port, 'GET', '/', { token: 'garbage' })).status).toBe(401);
    expect(
      (await call(port, 'GET', '/', { token: randomBytes(32).toString('base64url') })).status,
    ).toBe(401);
    expect(await call(port, 'GET', '/endpoint-health')).toMatchObject({
      status: 200,
      body: { status: 'OPERATIONAL' },
    });
  });

  it('reports every module UP through the host, with what heartbeats carried before', async () => {
    expect(await hosts[1].health()).toEqual({
      security: {
        status: 'UP',
        details: {
          realm: `${nodeId}/security`,
          timeoutMins: 30,
          userCount: 3,
          sessions: expect.any(Number),
          logins: expect.any(Object),
        },
      },
      web: { status: 'UP', details: { port: port + 1, requests: expect.any(Number) } },
      open: { status: 'UP', details: { port: openPort + 1, requests: expect.any(Number) } },
    });
  });

  it('logs in on one process; the session works on the other', async () => {
    const before = Date.now();
    const res = await login(0, 'alice', 'alice-pw');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(res.body).sort()).toEqual(['expiresAt', 'token']);
    expect(res.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(res.body.expiresAt)).toBeGreaterThanOrEqual(before + 30 * 60_000);

    for (const i of [0, 1]) {
      const got = await call(port + offsets[i], 'GET', '/', { token: res.body.token });
      expect(got).toMatchObject({
        status: 200,
        body: { nodeId, processId: `p${i}`, moduleId: 'web', message: 'hi' },
      });
      expect(
        (await call(port + offsets[i], 'GET', '/missing', { token: res.body.token })).status,
      ).toBe(404);
    }
  });

  it('answers a wrong password and an unknown user the same way', async () => {
    const wrong = await login(0, 'carol', 'nope');
    const unknown = await login(0, 'mallory', 'nope');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.message).toBe('invalid user name or password');
    expect([...wrong.headers.keys()].sort()).toEqual([...unknown.headers.keys()].sort());
  });

  it('refuses malformed logins', async () => {
    expect((await call(port, 'GET', '/login')).status).toBe(405);
    expect((await call(port, 'POST', '/login', { raw: '{nope' })).status).toBe(400);
    expect((await call(port, 'POST', '/login', { body: { username: 'alice' } })).status).toBe(400);
    expect((await call(port, 'POST', '/login', { body: [1] })).status).toBe(400);
    const big = await call(port, 'POST', '/login', {
      body: { username: 'alice', password: 'x'.repeat(20_000) },
    });
    expect(big.status).toBe(413);
  });

  it('slows down, then refuses repeated failures for one user with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof login>> | undefined;
    for (let i = 0; i < 6; i++) {
      last = await login(1, 'bob', 'wrong');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.body.message).toMatch(
      /too many failed logins for this user name; try again in \d+ s/,
    );
    // even the right password is refused while locked; other users are not affected
    expect((await login(1, 'bob', 'bob-pw')).status).toBe(429);
    expect((await login(1, 'alice', 'alice-pw')).status).toBe(200);
  });

  it('logout on one process ends the session on every process', async () => {
    const { token } = (await login(0, 'alice', 'alice-pw')).body;
    expect((await call(port + 1, 'GET', '/', { token })).status).toBe(200);

    expect((await call(port + 1, 'POST', '/logout', { token })).status).toBe(204);

    expect((await call(port + 1, 'GET', '/', { token })).status).toBe(401);
    await eventually(
      'process 0 refuses it',
      async () => (await call(port, 'GET', '/', { token })).status === 401,
    );
    expect((await call(port, 'POST', '/logout', { token })).status).toBe(401);
  });

  it('without the requirement the endpoint serves as before', async () => {
    const res = await call(openPort, 'GET', '/');
    expect(res).toMatchObject({ status: 200, body: { moduleId: 'open', message: 'hi' } });
    expect(
      (
        await call(openPort, 'POST', '/login', {
          body: { username: 'alice', password: 'alice-pw' },
        })
      ).status,
    ).toBe(404);
  });

  it('applies user and timeout changes in place, ending sessions of removed or changed users', async () => {
    const alice = (await login(0, 'alice', 'alice-pw')).body.token;
    const carol = (await login(0, 'carol', 'carol-pw')).body.token;
    const instances = hosts.map((h) => [h.instance('security'), h.instance('web')]);
    expect(isUsernamePasswordSecurity(instances[0][0])).toBe(true);

    // alice gets a new password, carol is removed, the timeout becomes 6 s
    const newAlice = await hashPassword('alice-new', { N: 1024 });
    const bob = users.split(';').find((u) => u.startsWith('bob:'))!;
    await applyEverywhere(
      document({ users: `alice:${newAlice};${bob}`, 'sessions.timeout.mins': '0.1' }),
    );

    expect(hosts.map((h) => [h.instance('security'), h.instance('web')])).toEqual(instances);
    for (const p of [port, port + 1]) {
      expect((await call(p, 'GET', '/', { token: alice })).status).toBe(401);
      expect((await call(p, 'GET', '/', { token: carol })).status).toBe(401);
    }
    expect((await login(1, 'carol', 'carol-pw')).status).toBe(401);
    expect((await login(1, 'alice', 'alice-pw')).status).toBe(401);
    const before = Date.now();
    const fresh = await login(1, 'alice', 'alice-new');
    expect(fresh.status).toBe(200);
    const expires = Date.parse(fresh.body.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 6000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 6000);
    expect((await call(port, 'GET', '/', { token: fresh.body.token })).status).toBe(200);
  });
});
