import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { JobParams, JobTypeRegistry, withDefaults } from './job-types';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobSubmission {
  jobType: string;
  params?: JobParams;
  nodeId: string;
  moduleId: string;
  /** Who asked: an admin actor, or `schedule:<id>`. */
  submittedBy: string;
  scheduleId?: string;
}

export interface ChunkError {
  seq: number;
  attempts: number;
  status: string;
  error: string;
}

/** A job as the API shows it. */
export interface JobView {
  jobId: string;
  jobType: string;
  nodeId: string;
  moduleId: string;
  status: JobStatus;
  params: JobParams;
  progress: { totalChunks: number; doneChunks: number; failedChunks: number; percent: number };
  error: string | null;
  submittedBy: string;
  scheduleId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Chunks that failed at least once, with their last error (GET /batch-jobs/:id only). */
  errors?: ChunkError[];
}

/** A submission the registry refuses (unknown type, bad params): the API answers 400. */
export class JobSubmissionError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

const JOB_COLUMNS = `job_id, job_type, node_id, module_id, status, params, total_chunks, done_chunks,
  failed_chunks, error, submitted_by, schedule_id, created_at, started_at, finished_at`;

interface JobRow {
  job_id: string;
  job_type: string;
  node_id: string;
  module_id: string;
  status: JobStatus;
  params: JobParams;
  total_chunks: number;
  done_chunks: number;
  failed_chunks: number;
  error: string | null;
  submitted_by: string;
  schedule_id: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toView(r: JobRow): JobView {
  const settled = r.done_chunks + r.failed_chunks;
  return {
    jobId: r.job_id,
    jobType: r.job_type,
    nodeId: r.node_id,
    moduleId: r.module_id,
    status: r.status,
    params: r.params,
    progress: {
      totalChunks: r.total_chunks,
      doneChunks: r.done_chunks,
      failedChunks: r.failed_chunks,
      percent: r.total_chunks ? Math.floor((100 * settled) / r.total_chunks) : 100,
    },
    error: r.error,
    submittedBy: r.submitted_by,
    scheduleId: r.schedule_id,
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}

/**
 * Plans a job and stores it with its chunks, on a client already in a transaction (the scheduler
 * submits in the transaction that records the firing). A job with no chunks has succeeded.
 */
export async function insertJob(
  client: PoolClient,
  registry: JobTypeRegistry,
  submission: JobSubmission,
  runnerId: string,
): Promise<JobView> {
  const problems = registry.problems(submission.jobType, submission.params ?? {});
  if (problems.length) throw new JobSubmissionError(problems);
  const type = registry.get(submission.jobType)!;
  const params = withDefaults(type.params, submission.params);
  const jobId = randomUUID();
  const chunks = await type.plan(params, {
    client,
    jobId,
    nodeId: submission.nodeId,
    moduleId: submission.moduleId,
    runnerId,
  });
  const empty = chunks.length === 0;
  const { rows } = await client.query<JobRow>(
    `INSERT INTO plexus_batch_job (job_id, job_type, params, status, node_id, module_id, submitted_by,
       schedule_id, total_chunks, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $4 = 'succeeded' THEN now() END)
     RETURNING ${JOB_COLUMNS}`,
    [
      jobId,
      type.name,
      JSON.stringify(params),
      empty ? 'succeeded' : 'queued',
      submission.nodeId,
      submission.moduleId,
      submission.submittedBy,
      submission.scheduleId ?? null,
      chunks.length,
    ],
  );
  if (!empty)
    await client.query(
      `INSERT INTO plexus_batch_chunk (job_id, seq, payload, status, max_attempts)
       SELECT $1, ordinality - 1, value, 'queued', $3 FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY`,
      [jobId, JSON.stringify(chunks), type.maxAttempts ?? 3],
    );
  return toView(rows[0]);
}

/** Runs `work` in a transaction on a client of its own. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export function submitJob(
  pool: Pool,
  registry: JobTypeRegistry,
  submission: JobSubmission,
  runnerId: string,
): Promise<JobView> {
  return inTransaction(pool, (client) => insertJob(client, registry, submission, runnerId));
}

export async function getJob(pool: Pool, jobId: string): Promise<JobView | null> {
  if (!/^[0-9a-f-]{36}$/i.test(jobId)) return null;
  const { rows } = await pool.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM plexus_batch_job WHERE job_id = $1`,
    [jobId],
  );
  if (!rows[0]) return null;
  const errors = await pool.query<{
    seq: number;
    attempts: number;
    status: string;
    last_error: string;
  }>(
    `SELECT seq, attempts, status, last_error FROM plexus_batch_chunk
     WHERE job_id = $1 AND last_error IS NOT NULL ORDER BY seq LIMIT 50`,
    [jobId],
  );
  return {
    ...toView(rows[0]),
    errors: errors.rows.map((e) => ({
      seq: e.seq,
      attempts: e.attempts,
      status: e.status,
      error: e.last_error,
    })),
  };
}

export async function listJobs(
  pool: Pool,
  filter: { status?: JobStatus; limit?: number } = {},
): Promise<JobView[]> {
  const { rows } = await pool.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM plexus_batch_job
     WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC LIMIT $2`,
    [filter.status ?? null, Math.min(filter.limit ?? 200, 1000)],
  );
  return rows.map(toView);
}

/** Cancels a job that has not finished; chunks being worked on finish, no others start. */
export async function cancelJob(
  pool: Pool,
  jobId: string,
): Promise<{ outcome: 'cancelled' | 'finished' | 'not-found'; job: JobView | null }> {
  if (!/^[0-9a-f-]{36}$/i.test(jobId)) return { outcome: 'not-found', job: null };
  const cancelled = await inTransaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `UPDATE plexus_batch_job SET status = 'cancelled', finished_at = now()
       WHERE job_id = $1 AND status IN ('queued', 'running')`,
      [jobId],
    );
    if (rowCount)
      await client.query(
        `UPDATE plexus_batch_chunk SET status = 'cancelled' WHERE job_id = $1 AND status = 'queued'`,
        [jobId],
      );
    return rowCount === 1;
  });
  const job = await getJob(pool, jobId);
  return { outcome: !job ? 'not-found' : cancelled ? 'cancelled' : 'finished', job };
}

/** Jobs queued or running in this store, for status reports. */
export async function countActiveJobs(pool: Pool): Promise<{ queued: number; running: number }> {
  const { rows } = await pool.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM plexus_batch_job
     WHERE status IN ('queued', 'running') GROUP BY status`,
  );
  const n = (s: string) => rows.find((r) => r.status === s)?.n ?? 0;
  return { queued: n('queued'), running: n('running') };
}
