import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from '@plexus/common';
import { hashPassword } from '@plexus/module-runtime';
import { AdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePort, freePortBlock, waitFor } from './support/ports';
import { ROOT, SpawnedProcess, stopProcess } from './support/processes';
import { TEST_SECRETS_KEY } from './support/secrets';

const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const keyB = randomBytes(32).toString('base64');
const idOf = (base64: string) =>
  createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex').slice(0, 8);
jest.setTimeout(120_000);

/**
 * Secrets encrypted at rest, with the built apps: a worker with the key decrypts them (a login
 * against the users of a local-security module works), one without reports the apply failed,
 * and the rotation command moves everything to a new key that workers then need alone.
 */
describe('secrets encrypted at rest (built control plane and workers)', () => {
  let cluster: Cluster;
  let api: AdminApi;
  let port: number;
  let users: string;
  let propertiesFile: string;
  const nodeId = `secrets-${randomBytes(4).toString('hex')}`;
  /** What a successful POST /login answers. */
  const SESSION = {
    token: expect.stringMatching(/^\S{16,}$/),
    expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
  };

  const worker = (portOffset: number, env: Record<string, string> = {}) =>
    cluster.startWorker({ nodeId, propertiesFile, portOffset, env, until: 'spawned' });
  const login = async (p: number) => {
    const res = await fetch(`http://127.0.0.1:${p}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: PASSWORD }),
    }).catch(() => null);
    return res?.status === 200 && ((await res.json()) as { token: string });
  };
  const processOf = async (w: SpawnedProcess) =>
    ((await api.get(`/processes?nodeId=${nodeId}`)).body as any[]).find(
      (p) => p.pid === w.child.pid && p.status === 'up',
    );
  const hashTail = () => users.split('$').slice(-2).join('$');

  beforeAll(async () => {
    cluster = await startCluster({ nats: 'shared' });
    api = cluster.api;
    port = await freePortBlock([0, 100, 200]);
    users = `alice:${await hashPassword(PASSWORD)}`;
    propertiesFile = cluster.writeFile('node.properties', [
      `node.id = ${nodeId}`,
      'module.security.type = local-security',
      `module.security.config.users = ${users}`,
      'module.web.type = http-endpoint',
      'module.web.requires.SECURITY_IN_UP = security',
      `module.web.config.port = ${port}`,
    ]);
  });
  afterAll(() => cluster?.stop());

  it('a worker with the key decrypts the users it is given: a login works', async () => {
    // the first process creates the node from its file; the stored users are encrypted
    const w = await worker(0);
    const session = await waitFor('a login on the first process', () => login(port), 60_000, 100);
    expect(session).toEqual(SESSION);
    const doc = await api.get(`/nodes/${nodeId}`);
    expect(doc.body.modules.find((m: any) => m.moduleId === 'security').config.users).toBe(
      '******',
    );
    expect(w.output()).not.toContain(hashTail());
    expect(w.output()).not.toContain(PASSWORD);
  });

  it('a worker without the key reports the apply failed naming PLEXUS_SECRETS_KEY, and keeps running', async () => {
    const w = await worker(100, { PLEXUS_SECRETS_KEY: '' });
    const failed = await waitFor(
      'the keyless process to report its modules',
      async () => {
        const p = await processOf(w);
        return p?.modules?.security?.state === 'failed' && p;
      },
      60_000,
      100,
    );
    expect(failed.modules.security.error).toMatch(
      /config\.users is encrypted with key \w{8}, but PLEXUS_SECRETS_KEY is not set in this process/,
    );
    expect(failed.modules.web).toMatchObject({ state: 'failed' }); // it requires the security module
    expect(await login(port + 100)).toBe(false);
    // still up and heartbeating; the value is in no log line (a fixed wait: that it keeps
    // running through it is what is tested)
    await sleep(1500);
    expect(w.child.exitCode).toBeNull();
    expect(await processOf(w)).toMatchObject({ nodeId, pid: w.child.pid, status: 'up' });
    expect(w.output()).toMatch(/PLEXUS_SECRETS_KEY is not set/);
    expect(w.output()).not.toContain(hashTail());
    expect(w.output()).not.toMatch(/enc:v1:\w{8}:[A-Za-z0-9_-]{16}/);
    await stopProcess(w, 8000);
  });

  it('rotate-secrets moves every secret to a new key; a worker with only that key serves logins', async () => {
    // control planes first get the new key and keep the old one as previous
    const keys = { PLEXUS_SECRETS_KEY: keyB, PLEXUS_SECRETS_KEY_PREVIOUS: TEST_SECRETS_KEY };
    await cluster.restartControlPlane({ env: keys });
    api = cluster.api;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'dist/apps/control-plane/main.js'), 'rotate-secrets'],
      {
        env: { ...process.env, DATABASE_URL: cluster.db.url, NATS_URL: cluster.natsUrl, ...keys },
        timeout: 60_000,
      },
    );
    const report = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(report).toMatchObject({
      keyId: idOf(keyB),
      nodeDocuments: { scanned: 1, reencrypted: 1 },
      published: 1,
    });
    // the one event that carries the users: the node created from the file
    expect(report.events.reencrypted).toBe(1);

    // then a worker with the new key alone reads the republished document and serves logins
    const w = await worker(200, { PLEXUS_SECRETS_KEY: keyB });
    expect(await waitFor('a login with key B only', () => login(port + 200), 60_000, 100)).toEqual(
      SESSION,
    );
    // and a change written now reaches it
    const patched = await api.patch(`/nodes/${nodeId}/modules/security/config`, {
      'sessions.timeout.mins': '45',
    });
    expect(patched.status).toBe(200);
    await waitFor('the change applied with key B', async () => {
      const p = await processOf(w);
      return p?.appliedVersion === patched.body.version && p.modules.security.state === 'running';
    });
  });

  it('a control plane without PLEXUS_SECRETS_KEY refuses to start, naming it and its form', async () => {
    const refused = cluster.spawn('control-plane', [], {
      DATABASE_URL: cluster.db.url,
      PORT: String(await freePort()),
      PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      PLEXUS_SECRETS_KEY: '',
    });
    expect(await refused.exited).toBe(2);
    expect(refused.output()).toContain(
      'PLEXUS_SECRETS_KEY must be set: 32 random bytes in base64, e.g. from `openssl rand -base64 32`',
    );
  });
});
