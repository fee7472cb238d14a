import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hashPassword } from '@plexus/module-runtime';
import { createTestDatabase } from './support/databases';
import { AdminApi, retryingAdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { freePort, freePortBlock, waitFor } from './support/ports';
import {
  ROOT,
  spawnApp,
  spawnControlPlane,
  SpawnedProcess,
  spawnWorker,
  stopProcess,
} from './support/processes';
import { TEST_SECRETS_KEY } from './support/secrets';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
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
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: SpawnedProcess & { url: string };
  let api: AdminApi;
  let port: number;
  let users: string;
  const dir = mkdtempSync(join(tmpdir(), 'plexus-secrets-e2e-'));
  const propertiesFile = join(dir, 'node.properties');
  const nodeId = `secrets-${randomBytes(4).toString('hex')}`;
  const workers: SpawnedProcess[] = [];

  const startControlPlane = async (env: Record<string, string> = {}) => {
    cp = await spawnControlPlane({
      DATABASE_URL: db.url,
      PORT: await freePort(),
      PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      more: env,
    });
    api = retryingAdminApi(cp.url);
  };
  const worker = (portOffset: number, env: Record<string, string> = {}) => {
    const w = spawnWorker({ nodeId, propertiesFile, portOffset, env });
    workers.push(w);
    return w;
  };
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
    db = await createTestDatabase();
    await startControlPlane();
    port = await freePortBlock([0, 100, 200]);
    users = `alice:${await hashPassword(PASSWORD)}`;
    writeFileSync(
      propertiesFile,
      [
        `node.id = ${nodeId}`,
        'module.security.type = local-security',
        `module.security.config.users = ${users}`,
        'module.web.type = http-endpoint',
        'module.web.requires.SECURITY_IN_UP = security',
        `module.web.config.port = ${port}`,
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => stopProcess(w, 8000)));
    if (cp) await stopProcess(cp, 8000);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a worker with the key decrypts the users it is given: a login works', async () => {
    // the first process creates the node from its file; the stored users are encrypted
    const w = worker(0);
    const session = await waitFor('a login on the first process', () => login(port), 60_000, 100);
    expect(session.token).toBeTruthy();
    const doc = await api.get(`/nodes/${nodeId}`);
    expect(doc.body.modules.find((m: any) => m.moduleId === 'security').config.users).toBe(
      '******',
    );
    expect(w.output()).not.toContain(hashTail());
    expect(w.output()).not.toContain(PASSWORD);
  });

  it('a worker without the key reports the apply failed naming PLEXUS_SECRETS_KEY, and keeps running', async () => {
    const w = worker(100, { PLEXUS_SECRETS_KEY: '' });
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
    // still up and heartbeating; the value is in no log line
    await new Promise((r) => setTimeout(r, 1500));
    expect(w.child.exitCode).toBeNull();
    expect(await processOf(w)).toBeTruthy();
    expect(w.output()).toMatch(/PLEXUS_SECRETS_KEY is not set/);
    expect(w.output()).not.toContain(hashTail());
    expect(w.output()).not.toMatch(/enc:v1:\w{8}:[A-Za-z0-9_-]{16}/);
    await stopProcess(w, 8000);
  });

  it('rotate-secrets moves every secret to a new key; a worker with only that key serves logins', async () => {
    // control planes first get the new key and keep the old one as previous
    await stopProcess(cp, 8000);
    const keys = { PLEXUS_SECRETS_KEY: keyB, PLEXUS_SECRETS_KEY_PREVIOUS: TEST_SECRETS_KEY };
    await startControlPlane(keys);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'dist/apps/control-plane/main.js'), 'rotate-secrets'],
      {
        env: { ...process.env, DATABASE_URL: db.url, NATS_URL, ...keys },
        timeout: 60_000,
      },
    );
    const report = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(report).toMatchObject({
      keyId: idOf(keyB),
      nodeDocuments: { scanned: 1, reencrypted: 1 },
      published: 1,
    });
    expect(report.events.reencrypted).toBeGreaterThanOrEqual(1);

    // then a worker with the new key alone reads the republished document and serves logins
    const w = worker(200, { PLEXUS_SECRETS_KEY: keyB });
    expect(
      await waitFor('a login with key B only', () => login(port + 200), 60_000, 100),
    ).toBeTruthy();
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
    const refused = spawnApp('control-plane', [], {
      DATABASE_URL: db.url,
      NATS_URL,
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
