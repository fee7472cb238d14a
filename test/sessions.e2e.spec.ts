import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { Subscription } from 'nats';
import { AppliedReport, appliedSubject } from '@plexus/bus';
import { hashPassword } from '@plexus/module-runtime';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePortBlock } from './support/ports';
import { SpawnedProcess } from './support/processes';
import { sleep } from '@plexus/common';

/**
 * Shared sessions across processes, with the built control plane and built workers as OS
 * processes, against the real Postgres and a NATS this file owns. Node 1 runs three processes
 * (A, B, C at port offsets 0, 100, 200) of a node whose `web` endpoint requires the `security`
 * module (local-security); node 2, one process, uses the same realm. The steps build on each
 * other. Nothing is timed: where something has to propagate, the test waits for it.
 */
const OFFSETS = [0, 100, 200];
const suffix = randomBytes(4).toString('hex');
const nodeId = `sess-${suffix}`;
const node2Id = `sess2-${suffix}`;
const realm = `e2e-sso-${suffix}`;
const WAIT_MS = 30_000;
const PASSWORDS = { alice: 'alice-Pa55word!', bob: 'bob-Pa55word!' };

/** A port P with P + every offset free. */
const portBlock = (taken: number[] = []) => freePortBlock(OFFSETS, taken, 300);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One HTTP call on a fresh connection; rejects with the socket error. */
function request(
  port: number,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(data
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: text ? JSON.parse(text) : null,
            });
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(data);
  });
}

describe('shared sessions across the processes of a node and across nodes', () => {
  let cluster: Cluster;
  let api: AdminApi;
  let reportsSub: Subscription;
  const reports: AppliedReport[] = [];
  /** The live worker of each index of node 1 (OFFSETS[index] is its port offset). */
  const workers: SpawnedProcess[] = [];
  let propertiesFile: string;
  let usersConfig: string;
  let webPort: number;
  let web2Port: number;
  let version = 0;
  /** Every token handed out, to check that no log line holds one. */
  const tokens: string[] = [];

  const portOf = (i: number) => webPort + OFFSETS[i];

  const until = <T>(
    what: string,
    probe: () => Promise<T | undefined | null | false>,
    ms = WAIT_MS,
  ): Promise<T> => cluster.until(what, probe, ms);

  const startWorker = async (index: number) => {
    workers[index] = await cluster.startWorker({
      nodeId,
      propertiesFile,
      portOffset: OFFSETS[index],
      until: 'spawned',
    });
    return workers[index];
  };

  /** Waits until process `i` serves: health open, everything else 401 without a session. */
  const secured = (port: number) =>
    until(`a secured endpoint on ${port}`, async () => {
      const health = await request(port, 'GET', '/endpoint-health');
      const root = await request(port, 'GET', '/');
      return health.status === 200 && root.status === 401;
    });

  const login = async (port: number, username: string, password: string) => {
    const res = await request(port, 'POST', '/login', { body: { username, password } });
    if (res.status === 200) tokens.push(res.body.token);
    return res;
  };

  const statusWith = async (port: number, token: string) =>
    (await request(port, 'GET', '/', { token })).status;

  /** Waits until every given port answers `status` for the token. */
  const answers = (ports: number[], token: string, status: number) =>
    until(`${status} for the session on ports ${ports}`, async () =>
      (await Promise.all(ports.map((p) => statusWith(p, token)))).every((s) => s === status),
    );

  /** Waits for the applied reports of `v` from `count` processes of node 1. */
  const appliedBy = (v: number, count: number) =>
    until(`applied reports of version ${v} from ${count} processes`, async () => {
      const found = reports.filter((r) => r.nodeId === nodeId && r.version === v);
      return new Set(found.map((r) => r.processId)).size >= count && found;
    });

  const patchSecurity = async (changes: Record<string, string>) => {
    const res = await api.patch(`/nodes/${nodeId}/modules/security/config`, changes);
    expect(res.status).toBe(200);
    version = res.body.version;
    return version;
  };

  beforeAll(async () => {
    cluster = await startCluster({
      databasePrefix: 'plexus_e2e_sessions',
      natsClient: { name: 'sessions-e2e-spec' },
    });
    api = cluster.api;
    reportsSub = cluster.nc.subscribe(appliedSubject(nodeId, '*'), {
      callback: (_err, msg) => msg && reports.push(msg.json<AppliedReport>()),
    });
    webPort = await portBlock();
    web2Port = await portBlock([webPort]);
    usersConfig = [
      `alice:${await hashPassword(PASSWORDS.alice)}`,
      `bob:${await hashPassword(PASSWORDS.bob)}`,
    ].join(';');
    propertiesFile = cluster.writeFile(`${nodeId}.properties`, [
      '# written by test/sessions.e2e.spec.ts',
      `node.id = ${nodeId}`,
      '',
      'module.security.type = local-security',
      `module.security.config.users = ${usersConfig}`,
      `module.security.config.sessions.realm = ${realm}`,
      '',
      'module.web.type = http-endpoint',
      'module.web.requires.SECURITY_IN_UP = security',
      `module.web.config.port = ${webPort}`,
    ]);
  }, 60_000);

  afterAll(async () => {
    reportsSub?.unsubscribe();
    await cluster?.stop();
  }, 60_000);

  it('three processes start from the file; each answers 401 without a session, health stays open', async () => {
    await startWorker(0);
    const created = await until('the node created by process A', async () => {
      const res = await api.get(`/nodes/${nodeId}`);
      return res.status === 200 && res;
    });
    version = created.body.version;
    // the users are a secret: never shown by the admin API
    const security = created.body.modules.find((m: any) => m.moduleId === 'security');
    expect(security).toMatchObject({
      type: 'local-security',
      config: { users: '******', 'sessions.realm': realm },
    });
    await startWorker(1);
    await startWorker(2);
    for (const i of [0, 1, 2]) await secured(portOf(i));
  }, 90_000);

  it('a login on A is valid on B and C', async () => {
    const res = await login(portOf(0), 'alice', PASSWORDS.alice);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: expect.any(String), expiresAt: expect.any(String) });
    const { token } = res.body;
    for (const i of [0, 1, 2]) {
      const got = await request(portOf(i), 'GET', '/', { token });
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ nodeId, moduleId: 'web' });
    }
  });

  it('a logout on C ends the session on A and B', async () => {
    const { token } = (await login(portOf(0), 'alice', PASSWORDS.alice)).body;
    await answers([portOf(0), portOf(1), portOf(2)], token, 200);

    expect((await request(portOf(2), 'POST', '/logout', { token })).status).toBe(204);

    expect(await statusWith(portOf(2), token)).toBe(401);
    await answers([portOf(0), portOf(1)], token, 401);
  });

  it('a session outlives the process it was made on (kill -9)', async () => {
    const { token } = (await login(portOf(0), 'alice', PASSWORDS.alice)).body;
    expect(await statusWith(portOf(1), token)).toBe(200);

    const a = workers[0];
    a.child.kill('SIGKILL');
    await a.exited;

    expect(await statusWith(portOf(1), token)).toBe(200);
    expect(await statusWith(portOf(2), token)).toBe(200);
    // a new process of the node loads the stored sessions
    await startWorker(0);
    await secured(portOf(0));
    expect(await statusWith(portOf(0), token)).toBe(200);
  }, 60_000);

  it('a timeout change applies in place (same processes); sessions expire after it', async () => {
    const pids = workers.map((w) => w.child.pid);
    const old = (await login(portOf(1), 'alice', PASSWORDS.alice)).body.token;

    const v = await patchSecurity({ 'sessions.timeout.mins': '0.05' }); // 3 s
    const applied = await appliedBy(v, 3);
    expect(applied.every((r) => r.ok)).toBe(true);
    expect(workers.map((w) => w.child.pid)).toEqual(pids);
    for (const w of workers) expect(w.child.exitCode).toBeNull();

    const res = await login(portOf(2), 'alice', PASSWORDS.alice);
    expect(res.status).toBe(200);
    // created before its answer arrived, with the new 3 s timeout
    expect(Date.parse(res.body.expiresAt)).toBeLessThanOrEqual(Date.now() + 3000);
    expect(await statusWith(portOf(0), res.body.token)).toBe(200);

    // unused for longer than the timeout: refused everywhere, the older session too (a fixed
    // wait: a probe would use the sessions, and the time passing unused is what is tested)
    await sleep(3000 + 1500);
    for (const i of [0, 1, 2]) {
      expect(await statusWith(portOf(i), res.body.token)).toBe(401);
      expect(await statusWith(portOf(i), old)).toBe(401);
    }

    await appliedBy(await patchSecurity({ 'sessions.timeout.mins': '30' }), 3);
  }, 60_000);

  it('two nodes with the same realm share sessions (single sign-on)', async () => {
    expect((await api.put(`/nodes/${node2Id}`, { properties: {} })).status).toBe(201);
    const sec = await api.put(`/nodes/${node2Id}/modules/security`, {
      type: 'local-security',
      config: { users: usersConfig, 'sessions.realm': realm },
      requires: {},
      enabled: true,
    });
    expect(sec.status).toBe(201);
    const web = await api.put(`/nodes/${node2Id}/modules/web`, {
      type: 'http-endpoint',
      config: { port: String(web2Port) },
      requires: { SECURITY_IN_UP: 'security' },
      enabled: true,
    });
    expect(web.status).toBe(201);
    await cluster.startWorker({ nodeId: node2Id, until: 'spawned' }); // its output is checked below
    await secured(web2Port);

    // made on node 1, used on node 2
    const fromNode1 = (await login(portOf(0), 'alice', PASSWORDS.alice)).body.token;
    expect(await statusWith(web2Port, fromNode1)).toBe(200);
    // made on node 2, used on node 1, ended on node 2: ended on node 1 too
    const fromNode2 = (await login(web2Port, 'bob', PASSWORDS.bob)).body.token;
    expect(await statusWith(portOf(1), fromNode2)).toBe(200);
    expect((await request(web2Port, 'POST', '/logout', { token: fromNode2 })).status).toBe(204);
    await answers([portOf(0), portOf(1), portOf(2)], fromNode2, 401);
    expect(await statusWith(web2Port, fromNode1)).toBe(200);
  }, 90_000);

  it('wrong passwords get 401, the same as an unknown user, then 429 with Retry-After', async () => {
    const unknown = await login(portOf(1), 'nobody', 'whatever');
    expect(unknown.status).toBe(401);
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 6; i++) {
      last = await login(portOf(1), 'bob', `wrong-${i}`);
      statuses.push(last.status);
      if (last.status === 401) expect(last.body).toEqual(unknown.body);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login(portOf(1), 'bob', PASSWORDS.bob)).status).toBe(429);
    // another user is not affected
    expect((await login(portOf(1), 'alice', PASSWORDS.alice)).status).toBe(200);
  }, 60_000);

  it('no process logged a password, a token or the users config', () => {
    const logs = [...cluster.workers, cluster.controlPlane].map((p) => p.output()).join('\n');
    expect(logs).toContain('login'); // the logs are there
    for (const secret of [
      ...Object.values(PASSWORDS),
      ...tokens,
      ...usersConfig.split(';').map((u) => u.split(':')[1]),
    ])
      expect(logs).not.toContain(secret);
  });
});
