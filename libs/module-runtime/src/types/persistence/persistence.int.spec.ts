import { openPool } from '@plexus/batch-jobs';
import { createModuleDatabase } from '../../../../../test/support/module-database';
import { waitFor } from '../../../../../test/support/ports';
import { builtInModuleTypes } from '../../built-in-types';
import { moduleContext } from '../../testing/module-context';
import { isBatchJobAccess, ReadOnlyModuleError } from './persistence.module-type';

/** persistence modules started as a worker would start them, against a real database. */
const jdbc = (url: string) => url.replace(/^postgres:/, 'jdbc:postgresql:');

describe('persistence module type (real Postgres)', () => {
  const catalog = builtInModuleTypes();
  const type = catalog.get('persistence')!;
  let db: Awaited<ReturnType<typeof createModuleDatabase>>;
  const stops: (() => Promise<void>)[] = [];

  const ctx = (config: Record<string, string>, nodeId: string, processId: string) =>
    moduleContext(config, {
      nodeId,
      processId,
      moduleId: 'persistence',
      services: { jobTypes: catalog.jobTypes() },
    });
  const start = async (url: string, nodeId: string, processId: string, readOnly: boolean) => {
    const instance = await type.definition.start(
      ctx(
        {
          'db.driver': 'POSTGRES_9_4',
          'db.url': jdbc(url),
          'db.connectionpool.maxtotal': '4',
          'db.connectionpool.maxidle': '1',
          'read_only_mode.enabled': String(readOnly),
        },
        nodeId,
        processId,
      ),
    );
    stops.push(() => instance.stop());
    if (!isBatchJobAccess(instance)) throw new Error('not a persistence module');
    return instance;
  };
  const tables = async (url: string) => {
    const pool = openPool({ url, maxTotal: 1, maxIdle: 0 });
    try {
      const { rows } = await pool.query(
        `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
      );
      return rows.map((r) => r.tablename);
    } finally {
      await pool.end();
    }
  };

  beforeAll(async () => {
    db = await createModuleDatabase('plexus_pm');
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await db.drop();
  });

  it('a read-only module on a fresh database creates nothing and lists no jobs', async () => {
    const fresh = await createModuleDatabase('plexus_pm_ro');
    try {
      const readOnly = await start(fresh.url, 'admin_node', 'p0', true);
      expect(await readOnly.listJobs({})).toEqual([]);
      expect(await tables(fresh.url)).toEqual([]);
      expect(readOnly.health().details).toMatchObject({
        readOnly: true,
        storeReady: false,
        runner: null,
      });
      await readOnly.stop();
    } finally {
      await fresh.drop();
    }
  });

  it('writable: creates its store on first start and runs a job submitted with params {}', async () => {
    // given a writable module on an empty database
    const writable = await start(db.url, 'fhir_node', 'p1', false);
    expect(await tables(db.url)).toEqual(
      expect.arrayContaining(['plexus_batch_job', 'plexus_batch_chunk', 'plexus_batch_schedule']),
    );
    // when a built-in job is submitted without params
    const { job } = await writable.submitJob('sample-rows', {}, 'admin');
    // then it runs to the end on this module's runner
    const done = await waitFor(
      'the job to succeed',
      async () => {
        const j = await writable.getJob(job.jobId);
        return j?.status === 'succeeded' ? j : null;
      },
      20_000,
      50,
    );
    expect(done).toMatchObject({
      nodeId: 'fhir_node',
      moduleId: 'persistence',
      params: { rows: 10000, chunkSize: 500 },
      progress: { totalChunks: 20, doneChunks: 20, percent: 100 },
    });
    const status = writable.health().details;
    expect(status).toMatchObject({
      readOnly: false,
      storeReady: true,
      pool: { maxTotal: 4, maxIdle: 1 },
      runner: { chunksDone: 20 },
    });
    expect(status.pool.total).toBeLessThanOrEqual(4);
  });

  it('read-only: lists the jobs of the writable one, refuses to start or cancel, runs nothing', async () => {
    const readOnly = await start(db.url, 'admin_node', 'p2', true);
    const jobs = await readOnly.listJobs({ status: 'succeeded' });
    expect(jobs.map((j) => j.jobType)).toEqual(['sample-rows']);
    expect(await readOnly.getJob(jobs[0].jobId)).toMatchObject({ status: 'succeeded' });
    await expect(readOnly.submitJob('sample-rows', {}, 'admin')).rejects.toBeInstanceOf(
      ReadOnlyModuleError,
    );
    await expect(readOnly.cancelJob(jobs[0].jobId)).rejects.toThrow(/read_only_mode/);
    expect(readOnly.health().details).toMatchObject({
      readOnly: true,
      runner: null,
      scheduler: null,
    });
    expect((await readOnly.listJobs({})).length).toBe(1);
  });

  it('switches to read-only in place, and back', async () => {
    const m = await start(db.url, 'fhir_node', 'p3', false);
    const config = {
      'db.url': jdbc(db.url),
      'db.connectionpool.maxtotal': '4',
      'read_only_mode.enabled': 'true',
    };
    const reconfigure = (next: Record<string, string>) =>
      m.reconfigure(ctx(next, 'fhir_node', 'p3'), { config: next, previous: {}, changedKeys: [] });
    expect(await reconfigure(config)).toBe('applied');
    expect(m.health().details).toMatchObject({ readOnly: true, runner: null });
    await expect(m.submitJob('sample-rows', {}, 'admin')).rejects.toBeInstanceOf(
      ReadOnlyModuleError,
    );
    expect(await reconfigure({ ...config, 'read_only_mode.enabled': 'false' })).toBe('applied');
    expect(m.health().details).toMatchObject({ readOnly: false, runner: { inFlight: 0 } });
    expect(await reconfigure({ ...config, 'db.url': `${jdbc(db.url)}_other` })).toBe('restart');
  });

  it('is UP while its database answers, and DOWN with the reason once it does not', async () => {
    const doomed = await createModuleDatabase('plexus_pm_down');
    const m = await start(doomed.url, 'down_node', 'p5', true);
    expect(m.health()).toMatchObject({ status: 'UP', details: { readOnly: true } });
    await doomed.drop(); // ends every connection to it, the module's too
    const down = await waitFor('the module to see its database gone', async () => {
      const health = m.health();
      return health.status === 'DOWN' && health;
    });
    expect(down.details).toMatchObject({ database: expect.any(String) });
  });

  it('fails to start, saying why, when the database cannot be reached', async () => {
    await expect(
      type.definition.start(ctx({ 'db.url': 'postgres://127.0.0.1:1/nowhere' }, 'fhir_node', 'p4')),
    ).rejects.toThrow(/^cannot open the module database: /);
  });
});
