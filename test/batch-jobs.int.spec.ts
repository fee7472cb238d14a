import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { NodeDocument } from '@plexus/domain';
import { builtInModuleTypes, ModuleHost } from '@plexus/module-runtime';
import { BatchJobResponder } from '../apps/worker/src/batch-job-responder';
import { createTestDatabase } from './support/databases';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { createModuleDatabase } from './support/module-database';
import { waitFor } from './support/ports';

/**
 * The batch-job API and the db.url guard: the control plane in this process, and "processes" of
 * nodes as ModuleHosts with the worker's batch-job responder, each on its own NATS connection.
 */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const suffix = randomBytes(3).toString('hex');
const FHIR = `fhir_${suffix}`;
const ADMIN = `admin_${suffix}`;
const OTHER = `other_${suffix}`;

describe('batch-job API and one writer per database (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let moduleDb: Awaited<ReturnType<typeof createModuleDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  const running: { host: ModuleHost; responder: BatchJobResponder; nc: NatsConnection }[] = [];

  const persistence = (url: string, readOnly = false, enabled = true) => ({
    type: 'persistence',
    enabled,
    config: {
      'db.driver': 'POSTGRES_9_4',
      'db.url': url,
      'db.connectionpool.maxtotal': '4',
      'db.connectionpool.maxidle': '1',
      'read_only_mode.enabled': String(readOnly),
    },
  });
  const jdbc = () => moduleDb.url.replace(/^postgres:/, 'jdbc:postgresql:');

  /** A process of a node: applies the node's stored document and answers batch-job requests. */
  async function runProcess(nodeId: string) {
    const nc = await connect({ servers: NATS_URL });
    const catalog = builtInModuleTypes();
    const host = new ModuleHost({
      registry: catalog,
      nodeId,
      processId: `${nodeId}-p${running.length}`,
      portOffset: 0,
      logger: quiet,
      services: { nats: nc, jobTypes: catalog.jobTypes() },
    });
    const responder = new BatchJobResponder(nc, host, nodeId, quiet);
    const doc: NodeDocument = (await api.get(`/nodes/${nodeId}`)).body; // redacted: this module has no password
    const result = await host.apply(doc);
    expect(result?.ok).toBe(true);
    responder.sync();
    running.push({ host, responder, nc });
    await nc.flush();
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    moduleDb = await createModuleDatabase('plexus_bj');
    cp = await startControlPlane({ databaseUrl: db.url });
    api = cp.api;
  });

  afterAll(async () => {
    for (const r of running) {
      r.responder.stop();
      await r.host.stopAll();
      await r.nc.close();
    }
    await cp?.close();
    await db?.drop();
    await moduleDb?.drop();
  });

  describe('db.url guard', () => {
    it('refuses a second writable module on another node with the same database, naming both and the fix', async () => {
      // given a writable persistence module on the FHIR node
      expect((await api.put(`/nodes/${FHIR}`, { properties: {} })).status).toBe(201);
      expect(
        (await api.put(`/nodes/${FHIR}/modules/persistence`, persistence(jdbc()))).status,
      ).toBe(201);
      await api.put(`/nodes/${ADMIN}`, { properties: {} });
      // when the admin node adds a writable one on the same database (written another way)
      const refused = await api.put(
        `/nodes/${ADMIN}/modules/persistence`,
        persistence(moduleDb.url.replace('127.0.0.1', 'localhost')),
      );
      // then it is refused naming both modules and the fix, and nothing is stored
      expect(refused.status).toBe(409);
      expect(refused.body.message).toContain(`module "persistence" of node "${FHIR}"`);
      expect(refused.body.message).toContain(`module "persistence" of node "${ADMIN}"`);
      expect(refused.body.message).toContain('Set read_only_mode.enabled=true');
      expect((await api.get(`/nodes/${ADMIN}`)).body.modules).toEqual([]);
      // and a read-only duplicate is accepted
      expect(
        (await api.put(`/nodes/${ADMIN}/modules/persistence`, persistence(jdbc(), true))).status,
      ).toBe(201);
    });

    it('refuses making the read-only duplicate writable, and starting a disabled writable one', async () => {
      const patch = await api.patch(`/nodes/${ADMIN}/modules/persistence/config`, {
        'read_only_mode.enabled': 'false',
      });
      expect(patch.status).toBe(409);
      expect(
        (await api.get(`/nodes/${ADMIN}`)).body.modules[0].config['read_only_mode.enabled'],
      ).toBe('true');
      await api.put(`/nodes/${OTHER}`, { properties: {} });
      expect(
        (await api.put(`/nodes/${OTHER}/modules/spare`, persistence(jdbc(), false, false))).status,
      ).toBe(201);
      const start = await api.post(`/nodes/${OTHER}/modules/spare/start`);
      expect(start.status).toBe(409);
      expect(start.body.message).toContain(`module "spare" of node "${OTHER}"`);
    });

    it('refuses an import that would add a second writer, importing nothing of the file', async () => {
      const third = `third_${suffix}`;
      const file = [
        `node.id=${third}`,
        'module.db.type=persistence',
        `module.db.config.db.url=${jdbc()}`,
        'module.db.config.read_only_mode.enabled=false',
        '',
      ].join('\n');
      const res = await api.post('/module-config/properties', file, {
        'content-type': 'text/plain',
      });
      expect(res.status).toBe(409);
      expect(res.body.message).toContain(`module "db" of node "${third}"`);
      expect((await api.get(`/nodes/${third}`)).status).toBe(404);
      const readOnly = file.replace('enabled=false', 'enabled=true');
      expect(
        (await api.post('/module-config/properties', readOnly, { 'content-type': 'text/plain' }))
          .status,
      ).toBe(200);
    });
  });

  describe('batch jobs', () => {
    it('lists the registered job types with their params schema', async () => {
      const res = await api.get('/batch-job-types');
      expect(res.status).toBe(200);
      expect(res.body).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            name: 'sample-rows',
            params: expect.objectContaining({
              rows: expect.objectContaining({ type: 'integer', default: 10000 }),
            }),
          }),
          expect.objectContaining({ name: 'analyze-tables' }),
        ]),
      );
      expect((await api.get('/module-types')).body.map((t: any) => t.type)).toContain(
        'persistence',
      );
    });

    it('answers 503 at once when no process runs the module', async () => {
      const res = await api.post(`/nodes/${FHIR}/modules/persistence/batch-jobs`, {
        jobType: 'sample-rows',
        params: {},
      });
      expect(res.status).toBe(503);
      expect(res.body.message).toContain('no live process runs it');
    });

    it('refuses bad submissions naming the field, and any on a read-only module', async () => {
      const post = (nodeId: string, moduleId: string, body: unknown) =>
        api.post(`/nodes/${nodeId}/modules/${moduleId}/batch-jobs`, body);
      const unknownType = await post(FHIR, 'persistence', { jobType: 'nope' });
      expect(unknownType.status).toBe(400);
      expect(unknownType.body.message).toMatch(/^jobType "nope" is not a registered job type/);
      const badParams = await post(FHIR, 'persistence', {
        jobType: 'sample-rows',
        params: { rows: -1 },
      });
      expect(badParams.status).toBe(400);
      expect(badParams.body.message).toBe('params.rows must be an integer from 1 to 10000000');
      expect((await post(FHIR, 'persistence', { params: {} })).status).toBe(400);
      expect(
        (await post(`missing_${suffix}`, 'persistence', { jobType: 'sample-rows' })).status,
      ).toBe(404);
      const readOnly = await post(ADMIN, 'persistence', { jobType: 'sample-rows', params: {} });
      expect(readOnly.status).toBe(409);
      expect(readOnly.body.message).toContain('read_only_mode');
    });

    it('runs a job submitted on the writable module and shows it through the read-only duplicate too', async () => {
      // given one process of each node running its persistence module
      await runProcess(FHIR);
      await runProcess(ADMIN);
      // when a job is submitted with params {}
      const submitted = await api.post(`/nodes/${FHIR}/modules/persistence/batch-jobs`, {
        jobType: 'sample-rows',
        params: {},
      });
      expect(submitted.status).toBe(202);
      const { jobId } = submitted.body;
      expect(submitted.body).toMatchObject({
        jobType: 'sample-rows',
        nodeId: FHIR,
        status: 'queued',
        submittedBy: 'admin',
      });
      // then it runs to the end, with its progress
      const done = await waitFor(
        'the job to succeed',
        async () => {
          const res = await api.get(`/batch-jobs/${jobId}`);
          return res.body.status === 'succeeded' && res.body;
        },
        20_000,
        100,
      );
      expect(done).toMatchObject({
        progress: { totalChunks: 20, doneChunks: 20, percent: 100 },
        errors: [],
      });
      // and the cluster-wide list has it once, though both modules on that database answer
      const list = await api.get(`/batch-jobs?status=succeeded`);
      expect(list.status).toBe(200);
      expect(list.body.jobs.filter((j: any) => j.jobId === jobId)).toHaveLength(1);
      // (the third node's module has no process: its jobs are missing, and it says so)
      expect(list.body.unanswered).toEqual([
        expect.objectContaining({
          nodeId: `third_${suffix}`,
          moduleId: 'db',
          reason: expect.stringContaining('no live process runs it'),
        }),
      ]);
      const viaAdmin = await api.get(`/batch-jobs?nodeId=${ADMIN}`);
      expect(viaAdmin.body.jobs.map((j: any) => j.jobId)).toContain(jobId);
      expect((await api.get(`/batch-jobs?status=bogus`)).status).toBe(400);
      // and a finished job cannot be cancelled
      const cancelDone = await api.post(`/batch-jobs/${jobId}/cancel`);
      expect(cancelDone.status).toBe(409);
      expect(cancelDone.body.message).toContain('already finished: it succeeded');
    });

    it('cancels a running job', async () => {
      const submitted = await api.post(`/nodes/${FHIR}/modules/persistence/batch-jobs`, {
        jobType: 'sample-rows',
        params: { rows: 2_000_000, chunkSize: 1000 },
      });
      expect(submitted.status).toBe(202);
      const cancelled = await api.post(`/batch-jobs/${submitted.body.jobId}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('cancelled');
      expect(cancelled.body.progress.doneChunks).toBeLessThan(2000);
      expect((await api.get(`/batch-jobs/${submitted.body.jobId}`)).body.status).toBe('cancelled');
      expect((await api.get(`/batch-jobs/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
      expect((await api.get(`/batch-jobs/not-a-uuid`)).status).toBe(400);
    });

    it('keeps recurring jobs on the writable module, listed once per database, and fires them', async () => {
      const path = (nodeId: string) =>
        `/nodes/${nodeId}/modules/persistence/batch-schedules/nightly`;
      const schedule = {
        jobType: 'analyze-tables',
        params: {},
        everyMs: 1000,
        firstDueAt: new Date().toISOString(),
      };
      expect((await api.put(path(ADMIN), schedule)).status).toBe(409);
      const badPeriod = await api.put(path(FHIR), { ...schedule, everyMs: 10 });
      expect(badPeriod.status).toBe(400);
      expect(badPeriod.body.message).toBe('everyMs must be an integer from 1000 to 31622400000');
      expect((await api.put(path(FHIR), { ...schedule, jobType: 'nope' })).status).toBe(400);
      const saved = await api.put(path(FHIR), schedule);
      expect(saved.status).toBe(200);
      expect(saved.body).toMatchObject({
        nodeId: FHIR,
        scheduleId: 'nightly',
        everyMs: 1000,
        enabled: true,
      });
      const fired = await waitFor(
        'the schedule to fire',
        async () => {
          const res = await api.get(`/batch-jobs?nodeId=${FHIR}`);
          return res.body.jobs.find((j: any) => j.scheduleId === 'nightly');
        },
        10_000,
        100,
      );
      expect(fired).toMatchObject({ jobType: 'analyze-tables', submittedBy: 'schedule:nightly' });
      const listed = await api.get('/batch-schedules');
      expect(listed.body.schedules.filter((x: any) => x.scheduleId === 'nightly')).toEqual([
        expect.objectContaining({ nodeId: FHIR, lastFiredAt: expect.any(String), lastError: null }),
      ]);
      expect((await api.put(path(FHIR), { ...schedule, enabled: false })).body.enabled).toBe(false);
    });
  });
});
