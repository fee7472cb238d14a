import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { NODES_BUCKET } from '@plexus/bus';
import { createTestDatabase } from './support/databases';
import { createModuleDatabase } from './support/module-database';
import { retryingAdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { OwnNatsServer } from './support/nats-server';
import { freePort, freePortBlock, waitFor } from './support/ports';
import {
  ROOT,
  spawnApp,
  spawnControlPlane,
  SpawnedProcess,
  spawnWorker,
  stopProcess,
} from './support/processes';

const CP_PASSWORD = `cp-${randomBytes(8).toString('hex')}`;
const WORKER_PASSWORD = `w-${randomBytes(8).toString('hex')}`;

/**
 * The worker permissions documented in examples/nats-auth.conf are enough for a node process:
 * it creates its node, applies changes and leaves, with no permission violation on the server,
 * and it cannot write node documents itself.
 */
describe('a worker with only the documented NATS permissions', () => {
  let nats: OwnNatsServer;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let moduleDb: Awaited<ReturnType<typeof createModuleDatabase>>;
  let cp: SpawnedProcess & { url: string };
  let worker: SpawnedProcess;
  const dir = mkdtempSync(join(tmpdir(), 'plexus-perm-'));
  const nodeId = `perm-${randomBytes(4).toString('hex')}`;
  let port: number;
  let soloPort: number;

  beforeAll(async () => {
    process.env.PLEXUS_NATS_CONTROL_PLANE_PASSWORD = CP_PASSWORD; // nats-server reads $VARs from its environment
    process.env.PLEXUS_NATS_WORKER_PASSWORD = WORKER_PASSWORD;
    nats = await OwnNatsServer.start(
      readFileSync(join(ROOT, 'examples', 'nats-auth.conf'), 'utf8'),
    );
    db = await createTestDatabase();
    moduleDb = await createModuleDatabase('plexus_perm');
    cp = await spawnControlPlane({
      DATABASE_URL: db.url,
      NATS_URL: `nats://controlplane:${CP_PASSWORD}@127.0.0.1:${nats.port}`,
      PORT: await freePort(),
      PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
    port = await freePortBlock([0, 100]); // a supervisor's second process listens at +100
    soloPort = await freePort();
    writeFileSync(
      join(dir, 'node.properties'),
      `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${port}\nmodule.web.config.message=hello\n` +
        // an activation: single module: the worker takes, renews and releases its lease
        `module.solo.type=http-endpoint\nmodule.solo.activation=single\nmodule.solo.config.port=${soloPort}\n` +
        // a persistence module: the worker answers batch-job requests for it
        `module.db.type=persistence\nmodule.db.config.db.url=${moduleDb.url}\n`,
    );
  }, 60_000);

  afterAll(async () => {
    if (worker) await stopProcess(worker, 5000);
    if (cp) await stopProcess(cp, 5000);
    await nats?.dispose();
    await db?.drop();
    await moduleDb?.drop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('creates its node, applies a change, leaves, and never trips a permission', async () => {
    worker = spawnWorker({
      nodeId,
      propertiesFile: join(dir, 'node.properties'),
      natsUrl: `nats://worker:${WORKER_PASSWORD}@127.0.0.1:${nats.port}`,
    });
    const served = async (message: string) =>
      waitFor(
        `"${message}" served`,
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => null);
          return res?.status === 200 && (await res.json()).message === message;
        },
        20_000,
        50,
      );
    await served('hello');
    const api = retryingAdminApi(cp.url);
    expect(
      (await api.patch(`/nodes/${nodeId}/modules/web/config`, { message: 'changed' })).status,
    ).toBe(200);
    await served('changed');
    expect((await fetch(`http://127.0.0.1:${soloPort}/`)).status).toBe(200);
    // it answers batch-job requests for its persistence module (subscribe and reply allowed)
    const submitted = await waitFor('a batch job accepted', async () => {
      const res = await api.post(`/nodes/${nodeId}/modules/db/batch-jobs`, {
        jobType: 'analyze-tables',
        params: {},
      });
      return res.status === 202 && res;
    });
    const listed = await api.get(`/batch-jobs?nodeId=${nodeId}`);
    expect(listed.body.unanswered).toEqual([]);
    expect(listed.body.jobs.map((j: any) => j.jobId)).toEqual([submitted.body.jobId]);
    await waitFor(
      'the process listed up',
      async () => (await api.get(`/processes?nodeId=${nodeId}`)).body[0]?.status === 'up',
    );
    expect(await stopProcess(worker, 5000)).toBe(0);
    await waitFor(
      'the process listed as left',
      async () => (await api.get(`/processes?nodeId=${nodeId}`)).body[0]?.status === 'left',
    );
    expect(readFileSync(nats.logFile, 'utf8')).not.toMatch(/Permissions Violation/);
  });

  it('is enough for a supervisor, which runs the count the scaling policy asks for', async () => {
    const api = retryingAdminApi(cp.url);
    expect(
      (await api.put(`/nodes/${nodeId}/scaling`, { min: 2, max: 2, target: 50 })).body.desired,
    ).toBe(2);
    const supervisor = spawnApp('supervisor', ['--node-id', nodeId], {
      NATS_URL: `nats://worker:${WORKER_PASSWORD}@127.0.0.1:${nats.port}`,
      LOG_LEVEL: 'info',
    });
    try {
      await waitFor(
        'two processes up',
        async () => (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body.length === 2,
        30_000,
        200,
      );
    } finally {
      expect(await stopProcess(supervisor, 30_000)).toBe(0);
    }
    expect(readFileSync(nats.logFile, 'utf8')).not.toMatch(/Permissions Violation/);
  }, 60_000);

  it('cannot write node documents: only the control plane can', async () => {
    const nc = await connect({ servers: nats.url, user: 'worker', pass: WORKER_PASSWORD });
    try {
      const kv = await nc.jetstream().views.kv(NODES_BUCKET);
      await expect(kv.put(nodeId, new TextEncoder().encode('{}'))).rejects.toThrow(/permission/i);
    } finally {
      await nc.close();
    }
  });
});
