import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { Client } from 'pg';
import { NodeDocument } from '@plexus/domain';
import { builtInModuleTypes, ModuleHost } from '@plexus/module-runtime';
import { BatchJobResponder } from '../apps/worker/src/batch-job-responder';
import { createTestDatabase } from './support/databases';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { createModuleDatabase } from './support/module-database';

jest.setTimeout(60_000);

/**
 * Batch jobs that cost too much, or twice: a cap on chunks per job, and an Idempotency-Key that
 * makes a retried submission return the job the first one created. The control plane runs in
 * this process; a "process" of the node is a ModuleHost with the worker's batch-job responder.
 */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const NODE = `jobs_${randomBytes(3).toString('hex')}`;
const SUBMIT = `/nodes/${NODE}/modules/persistence/batch-jobs`;

describe('batch-job limits and idempotent submission (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let moduleDb: Awaited<ReturnType<typeof createModuleDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  let host: ModuleHost;
  let responder: BatchJobResponder;
  let nc: NatsConnection;
  let pg: Client;

  const jobRows = async () =>
    Number((await pg.query(`SELECT count(*) AS n FROM plexus_batch_job`)).rows[0].n);
  const chunkRows = async () =>
    Number((await pg.query(`SELECT count(*) AS n FROM plexus_batch_chunk`)).rows[0].n);

  beforeAll(async () => {
    db = await createTestDatabase();
    moduleDb = await createModuleDatabase('plexus_bjl');
    cp = await startControlPlane({ databaseUrl: db.url });
    api = cp.api;
    expect((await api.put(`/nodes/${NODE}`, { properties: {} })).status).toBe(201);
    const put = await api.put(`/nodes/${NODE}/modules/persistence`, {
      type: 'persistence',
      config: {
        'db.driver': 'POSTGRES_9_4',
        'db.url': moduleDb.url.replace(/^postgres:/, 'jdbc:postgresql:'),
        'db.connectionpool.maxtotal': '6',
        'db.connectionpool.maxidle': '1',
      },
    });
    expect(put.status).toBe(201);
    // one process of the node, with the worker's defaults
    nc = await connect({ servers: NATS_URL });
    const catalog = builtInModuleTypes();
    host = new ModuleHost({
      registry: catalog,
      nodeId: NODE,
      processId: `${NODE}-p0`,
      portOffset: 0,
      logger: quiet,
      services: { nats: nc, jobTypes: catalog.jobTypes() },
    });
    responder = new BatchJobResponder(nc, host, NODE, quiet);
    const doc: NodeDocument = (await api.get(`/nodes/${NODE}`)).body;
    expect((await host.apply(doc))?.ok).toBe(true);
    responder.sync();
    await nc.flush();
    pg = new Client({ connectionString: moduleDb.url });
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    responder?.stop();
    await host?.stopAll();
    await nc?.close();
    await cp?.close();
    await db?.drop();
    await moduleDb?.drop();
  });

  it('refuses a job of more than 100,000 chunks with 400 naming the cap, storing nothing', async () => {
    const before = { jobs: await jobRows(), chunks: await chunkRows() };
    const res = await api.post(SUBMIT, {
      jobType: 'sample-rows',
      params: { rows: 200_002, chunkSize: 2 },
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('100001 chunks');
    expect(res.body.message).toContain('at most 100000 chunks (BATCH_JOB_MAX_CHUNKS)');
    expect({ jobs: await jobRows(), chunks: await chunkRows() }).toEqual(before);
  });

  it('answers a retry with the same Idempotency-Key with the job the first request created', async () => {
    const body = { jobType: 'sample-rows', params: { rows: 10, chunkSize: 5 } };
    const key = { 'idempotency-key': `retry-${randomBytes(4).toString('hex')}` };
    const first = await api.post(SUBMIT, body, key);
    expect(first.status).toBe(202);
    const jobs = await jobRows();
    // when the client retries after, say, a timeout
    const retry = await api.post(SUBMIT, body, key);
    // then it gets the same job with 200, and no second job exists
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.jobId).toBe(first.body.jobId);
    expect(await jobRows()).toBe(jobs);
  });

  it('refuses the same Idempotency-Key with a different request with 409 naming the key', async () => {
    const key = `other-${randomBytes(4).toString('hex')}`;
    const first = await api.post(
      SUBMIT,
      { jobType: 'sample-rows', params: { rows: 10, chunkSize: 5 } },
      { 'idempotency-key': key },
    );
    expect(first.status).toBe(202);
    const different = await api.post(
      SUBMIT,
      { jobType: 'sample-rows', params: { rows: 20, chunkSize: 5 } },
      { 'idempotency-key': key },
    );
    expect(different.status).toBe(409);
    expect(different.body.message).toContain(`Idempotency-Key "${key}"`);
    expect(different.body.message).toContain(first.body.jobId);
  });

  it('creates one job when retries with the same key race', async () => {
    const jobs = await jobRows();
    const key = { 'idempotency-key': `race-${randomBytes(4).toString('hex')}` };
    const body = { jobType: 'sample-rows', params: { rows: 10, chunkSize: 1 } };
    const answers = await Promise.all(Array.from({ length: 6 }, () => api.post(SUBMIT, body, key)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 202]);
    expect(new Set(answers.map((a) => a.body.jobId)).size).toBe(1);
    expect(await jobRows()).toBe(jobs + 1);
  });

  it('refuses an Idempotency-Key that is too long or not visible ASCII with 400', async () => {
    const body = { jobType: 'sample-rows', params: { rows: 10 } };
    const long = await api.post(SUBMIT, body, { 'idempotency-key': 'k'.repeat(256) });
    expect(long.status).toBe(400);
    expect(long.body.message).toBe(
      'the Idempotency-Key header must be 1 to 255 visible US-ASCII characters',
    );
  });
});
