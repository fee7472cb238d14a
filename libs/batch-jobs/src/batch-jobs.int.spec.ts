import { Pool } from 'pg';
import { createModuleDatabase } from '../../../test/support/module-database';
import { waitFor } from '../../../test/support/ports';
import {
  BatchJobRunner,
  BatchJobScheduler,
  BUILT_IN_JOB_TYPES,
  cancelJob,
  getJob,
  JobSubmissionError,
  JobType,
  JobTypeRegistry,
  listScheduleFires,
  listSchedules,
  migrateBatchJobStore,
  openPool,
  submitJob,
  upsertSchedule,
} from './index';
import { sleep } from '@plexus/common';

describe('batch-job store (real Postgres)', () => {
  let db: Awaited<ReturnType<typeof createModuleDatabase>>;
  let pool: Pool;
  const pools: Pool[] = [];
  const runners: BatchJobRunner[] = [];
  const where = { nodeId: 'fhir_node', moduleId: 'persistence', submittedBy: 'test' };

  const newPool = (applicationName = 'batch-test', maxTotal = 5) => {
    const p = openPool({ url: db.url, maxTotal, maxIdle: 1, applicationName });
    pools.push(p);
    return p;
  };
  const runner = (
    registry: JobTypeRegistry,
    runnerId: string,
    more: Partial<ConstructorParameters<typeof BatchJobRunner>[0]> = {},
  ) => {
    const r = new BatchJobRunner({ pool, registry, runnerId, idlePollMs: 50, ...more });
    runners.push(r);
    return r.start();
  };
  const finished = (jobId: string) =>
    waitFor(
      `job ${jobId} to finish`,
      async () => {
        const job = await getJob(pool, jobId);
        return job && !['queued', 'running'].includes(job.status) ? job : null;
      },
      20_000,
      50,
    );

  beforeAll(async () => {
    db = await createModuleDatabase('plexus_batch');
    pool = newPool();
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
  });

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    await db.drop();
  });

  it('creates its schema once when several processes start at the same time', async () => {
    // given three processes starting on an empty database
    const starting = [newPool('m1'), newPool('m2'), newPool('m3')];
    // when they all migrate at once
    const applied = await Promise.all(starting.map((p) => migrateBatchJobStore(p)));
    // then exactly one applied each version and the others found it done
    expect(applied.flat().sort()).toEqual([1, 2, 3]);
    const { rows } = await pool.query(
      'SELECT version FROM plexus_batch_schema_version ORDER BY version',
    );
    expect(rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
  });

  it('shares one job between two runners and does every chunk exactly once', async () => {
    // given a sample-rows job of 100 chunks
    const registry = new JobTypeRegistry(BUILT_IN_JOB_TYPES);
    const job = await submitJob(
      pool,
      registry,
      { ...where, jobType: 'sample-rows', params: { rows: 2000, chunkSize: 20 } },
      'submitter',
    );
    expect(job).toMatchObject({ status: 'queued', progress: { totalChunks: 100, doneChunks: 0 } });
    // when two runners (each with its own connections) work on it
    const a = new BatchJobRunner({
      pool: newPool('runner-a'),
      registry,
      runnerId: 'runner-a',
      idlePollMs: 50,
    });
    const b = new BatchJobRunner({
      pool: newPool('runner-b'),
      registry,
      runnerId: 'runner-b',
      idlePollMs: 50,
    });
    runners.push(a.start(), b.start());
    const done = await finished(job.jobId);
    // then it succeeded, each number was written once, and both runners did chunks
    expect(done).toMatchObject({
      status: 'succeeded',
      progress: { totalChunks: 100, doneChunks: 100, percent: 100 },
    });
    const rows = await pool.query(
      `SELECT count(*)::int AS total, count(DISTINCT n)::int AS distinct_n FROM plexus_batch_sample_rows WHERE job_id = $1`,
      [job.jobId],
    );
    expect(rows.rows[0]).toEqual({ total: 2000, distinct_n: 2000 });
    const by = await pool.query(
      `SELECT done_by, count(*)::int AS chunks FROM plexus_batch_chunk WHERE job_id = $1 GROUP BY done_by ORDER BY done_by`,
      [job.jobId],
    );
    expect(by.rows.map((r) => r.done_by)).toEqual(['runner-a', 'runner-b']);
    // and the rows of each chunk were written by the runner recorded as having done it
    const mismatched = await pool.query(
      `SELECT count(*)::int AS n FROM plexus_batch_sample_rows r JOIN plexus_batch_chunk c
         ON c.job_id = r.job_id AND r.n >= (c.payload->>'from')::int AND r.n < (c.payload->>'to')::int
       WHERE r.job_id = $1 AND r.written_by <> c.done_by`,
      [job.jobId],
    );
    expect(mismatched.rows[0].n).toBe(0);
  });

  it('gives the chunk of a runner that died mid-chunk to another once its lease expires', async () => {
    // given a job type that records every execution and holds runner-a inside its chunk
    await pool.query('CREATE TABLE IF NOT EXISTS executions (job_id uuid, seq int, runner text)');
    let releaseA!: () => void;
    const aHolds = new Promise<void>((resolve) => (releaseA = resolve));
    let aStarted = false;
    const recording: JobType = {
      name: 'recording',
      description: 'records who ran each chunk',
      params: {},
      plan: async () => [{}],
      async runChunk(_chunk, _params, ctx) {
        await ctx.client.query('INSERT INTO executions VALUES ($1, $2, $3)', [
          ctx.jobId,
          ctx.seq,
          ctx.runnerId,
        ]);
        if (ctx.runnerId === 'dying') {
          aStarted = true;
          await aHolds;
        }
      },
    };
    const registry = new JobTypeRegistry([recording]);
    const job = await submitJob(pool, registry, { ...where, jobType: 'recording' }, 'submitter');
    const dyingPool = newPool('dying-runner');
    const dying = new BatchJobRunner({
      pool: dyingPool,
      registry,
      runnerId: 'dying',
      leaseMs: 1500,
      concurrency: 1,
    });
    runners.push(dying.start());
    await waitFor('the dying runner to be inside its chunk', async () => aStarted);
    // when its process dies (its database sessions end without committing)
    await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dying-runner'`,
    );
    const survivor = runner(registry, 'survivor', { leaseMs: 1500 });
    // then the survivor takes the chunk over after the lease and finishes the job
    const done = await finished(job.jobId);
    releaseA();
    expect(done.status).toBe('succeeded');
    const chunk = await pool.query(
      'SELECT done_by, attempts FROM plexus_batch_chunk WHERE job_id = $1',
      [job.jobId],
    );
    expect(chunk.rows).toEqual([{ done_by: 'survivor', attempts: 2 }]);
    const executions = await pool.query('SELECT runner FROM executions WHERE job_id = $1', [
      job.jobId,
    ]);
    expect(executions.rows).toEqual([{ runner: 'survivor' }]);
    expect(survivor.status().chunksDone).toBe(1);
  });

  it('cancels a job: no chunk of it starts afterwards', async () => {
    // given a queued job nobody works on yet
    const registry = new JobTypeRegistry(BUILT_IN_JOB_TYPES);
    const job = await submitJob(
      pool,
      registry,
      { ...where, jobType: 'sample-rows', params: { rows: 100, chunkSize: 10 } },
      'submitter',
    );
    // when it is cancelled and a runner starts
    const cancelled = await cancelJob(pool, job.jobId);
    runner(registry, 'after-cancel');
    await sleep(500); // a fixed wait: that the runner does nothing through it is what is tested
    // then it stays cancelled with nothing done, and cancelling again says it already finished
    expect(cancelled).toMatchObject({ outcome: 'cancelled', job: { status: 'cancelled' } });
    expect(await getJob(pool, job.jobId)).toMatchObject({
      status: 'cancelled',
      progress: { doneChunks: 0 },
    });
    const written = await pool.query(
      'SELECT count(*)::int AS n FROM plexus_batch_sample_rows WHERE job_id = $1',
      [job.jobId],
    );
    expect(written.rows[0].n).toBe(0);
    expect((await cancelJob(pool, job.jobId)).outcome).toBe('finished');
    expect((await cancelJob(pool, '00000000-0000-0000-0000-000000000000')).outcome).toBe(
      'not-found',
    );
  });

  it('retries a failing chunk, then fails the job with the error visible', async () => {
    // given a job type whose one chunk always throws
    let attempts = 0;
    const failing: JobType = {
      name: 'failing',
      description: 'always fails',
      params: {},
      maxAttempts: 3,
      plan: async () => [{ table: 'missing' }],
      async runChunk() {
        attempts++;
        throw new Error('table "missing" does not exist');
      },
    };
    const registry = new JobTypeRegistry([failing]);
    const job = await submitJob(pool, registry, { ...where, jobType: 'failing' }, 'submitter');
    // when a runner works on it
    runner(registry, 'retrier', { retryDelayMs: 50 });
    const done = await finished(job.jobId);
    // then it was tried three times and the job failed naming the chunk and the error
    expect(attempts).toBe(3);
    expect(done.status).toBe('failed');
    expect(done.error).toBe('chunk 0 failed after 3 attempts: table "missing" does not exist');
    expect(done.errors).toEqual([
      { seq: 0, attempts: 3, status: 'failed', error: 'table "missing" does not exist' },
    ]);
  });

  it('refuses an unknown job type or bad params, naming the field', async () => {
    const registry = new JobTypeRegistry(BUILT_IN_JOB_TYPES);
    await expect(submitJob(pool, registry, { ...where, jobType: 'nope' }, 's')).rejects.toThrow(
      /jobType "nope" is not a registered job type/,
    );
    await expect(
      submitJob(pool, registry, { ...where, jobType: 'sample-rows', params: { rows: 0 } }, 's'),
    ).rejects.toBeInstanceOf(JobSubmissionError);
  });

  it("refuses a job whose plan has more chunks than the registry's cap, storing nothing", async () => {
    // given a job type that plans 11 chunks, whatever the cap, and a registry capped at 10
    const eleven: JobType = {
      name: 'eleven',
      description: 'plans 11 chunks',
      params: {},
      plan: async () => Array.from({ length: 11 }, (_, i) => i),
      runChunk: async () => undefined,
    };
    const registry = new JobTypeRegistry([eleven], { maxChunksPerJob: 10 });
    const jobs = async () =>
      Number((await pool.query('SELECT count(*) AS n FROM plexus_batch_job')).rows[0].n);
    const before = await jobs();
    // when it is submitted, then it is refused naming the count, the cap and its variable
    await expect(submitJob(pool, registry, { ...where, jobType: 'eleven' }, 's')).rejects.toThrow(
      'the job would have 11 chunks: a job may have at most 10 chunks (BATCH_JOB_MAX_CHUNKS)',
    );
    expect(await jobs()).toBe(before);
  });

  it('runs the built-in analyze-tables job with no params', async () => {
    const registry = new JobTypeRegistry(BUILT_IN_JOB_TYPES);
    const job = await submitJob(
      pool,
      registry,
      { ...where, jobType: 'analyze-tables', params: {} },
      's',
    );
    runner(registry, 'analyzer');
    const done = await finished(job.jobId);
    expect(done.status).toBe('succeeded');
    expect(done.progress.totalChunks).toBeGreaterThan(0);
    const analyzed = await pool.query(
      `SELECT last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = 'plexus_batch_job'`,
    );
    expect(analyzed.rows).toEqual([{ analyzed: true }]);
  });

  it('fires each due time of a schedule once with three schedulers running', async () => {
    // given a schedule due every 400 ms and three processes' schedulers
    const registry = new JobTypeRegistry(BUILT_IN_JOB_TYPES);
    const first = new Date(Date.now() + 200);
    await upsertSchedule(pool, {
      scheduleId: 'every-400',
      jobType: 'sample-rows',
      params: { rows: 1 },
      everyMs: 400,
      firstDueAt: first,
    });
    const schedulers = ['s1', 's2', 's3'].map((id) =>
      new BatchJobScheduler({
        pool: newPool(id),
        registry,
        runnerId: id,
        ...where,
        tickMs: 50,
      }).start(),
    );
    // when they run through seven due times
    await waitFor(
      'seven due times fired',
      async () => (await listScheduleFires(pool, 'every-400')).length >= 7,
      15_000,
      50,
    );
    await Promise.all(schedulers.map((s) => s.stop()));
    // then every due time from the first on fired exactly once, with one job each
    const fires = await listScheduleFires(pool, 'every-400');
    expect(fires.length).toBeGreaterThanOrEqual(7);
    // (a tick held up past a whole period would coalesce due times, never repeat one)
    const steps = fires.map((f) => (Date.parse(f.dueAt) - first.getTime()) / 400);
    expect(steps.every((k) => Number.isInteger(k))).toBe(true);
    expect(new Set(steps).size).toBe(steps.length);
    expect(steps[0]).toBe(0);
    const jobs = await pool.query(
      `SELECT job_id FROM plexus_batch_job WHERE schedule_id = 'every-400'`,
    );
    expect(jobs.rows.map((r) => r.job_id).sort()).toEqual(fires.map((f) => f.jobId).sort());
    expect(schedulers.reduce((n, s) => n + s.status().fired, 0)).toBe(fires.length);
  });

  it('skips the due time of a schedule whose job cannot be planned, saying why, without holding up others', async () => {
    // given a schedule of a job type this process does not know, and a good one, both due
    await pool.query('UPDATE plexus_batch_schedule SET enabled = false');
    const registry = new JobTypeRegistry(BUILT_IN_JOB_TYPES);
    const due = new Date(Date.now() - 10);
    await upsertSchedule(pool, {
      scheduleId: 'bad',
      jobType: 'gone',
      everyMs: 60_000,
      firstDueAt: due,
    });
    await upsertSchedule(pool, {
      scheduleId: 'good',
      jobType: 'sample-rows',
      params: { rows: 1 },
      everyMs: 60_000,
      firstDueAt: due,
    });
    // when a scheduler ticks
    const scheduler = new BatchJobScheduler({ pool, registry, runnerId: 's', ...where });
    const fires = await scheduler.tick();
    // then the good one fired, the bad one moved to its next due time with the reason
    expect(fires.map((f) => f.scheduleId)).toEqual(['good']);
    const schedules = await listSchedules(pool);
    const bad = schedules.find((x) => x.scheduleId === 'bad')!;
    expect(bad.lastError).toMatch(/skipped: jobType "gone" is not a registered job type/);
    expect(Date.parse(bad.nextDueAt)).toBe(due.getTime() + 60_000);
    expect(schedules.find((x) => x.scheduleId === 'good')).toMatchObject({
      lastError: null,
      lastFiredAt: expect.any(String),
    });
    // and a schedule of an unknown type is refused up front when a registry is given
    await expect(
      upsertSchedule(pool, { scheduleId: 'x', jobType: 'gone', everyMs: 1000 }, registry),
    ).rejects.toBeInstanceOf(JobSubmissionError);
  });
});
