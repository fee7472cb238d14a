import { createHash, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { chunkCountProblem, JobParams, JobTypeRegistry, withDefaults } from './job-types';

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
  /**
   * The client's Idempotency-Key: a submission with a key already used returns the job the
   * first one created (the same request) or is refused (another request).
   */
  idempotencyKey?: string;
}

/** A submitted job, and whether an earlier submission with the same idempotency key made it. */
export interface SubmittedJob {
  job: JobView;
  replayed: boolean;
}

/** An idempotency key already used by another request: the API answers 409. */
export class IdempotencyKeyReused extends Error {
  name = 'IdempotencyKeyReused';
}

/** Idempotency-Key values: as Stripe's, up to 255 characters, visible US-ASCII only. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
export const IDEMPOTENCY_KEY_RULE = '1 to 255 visible US-ASCII characters';

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

/** What makes two submissions the same request: where, what, with which params, by whom. */
function requestDigest(submission: JobSubmission, type: string, params: JobParams): string {
  const sorted = Object.fromEntries(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : 1)));
  const { nodeId, moduleId, submittedBy } = submission;
  return createHash('sha256')
    .update(JSON.stringify([nodeId, moduleId, submittedBy, type, sorted]))
    .digest('hex');
}

/** The job an earlier submission with `key` created, if the same request; refused otherwise. */
async function replay(
  client: PoolClient,
  key: string,
  digest: string,
): Promise<SubmittedJob | null> {
  const { rows } = await client.query<JobRow & { request_digest: string }>(
    `SELECT ${JOB_COLUMNS}, request_digest FROM plexus_batch_job WHERE idempotency_key = $1`,
    [key],
  );
  const earlier = rows[0];
  if (!earlier) return null;
  if (earlier.request_digest !== digest)
    throw new IdempotencyKeyReused(
      `Idempotency-Key "${key}" was already used by another request (it created batch job ${earlier.job_id}); ` +
        'use a new key for a new request',
    );
  return { job: toView(earlier), replayed: true };
}

/**
 * Plans a job and stores it with its chunks, on a client already in a transaction (the scheduler
 * submits in the transaction that records the firing). A job with no chunks has succeeded; one
 * with more than the registry's maxChunksPerJob is refused. With an idempotency key, a repeated
 * request gets the job the first one created (two racing ones too: the second insert waits for
 * the first on the key's unique index, then finds its job).
 */
export async function insertJob(
  client: PoolClient,
  registry: JobTypeRegistry,
  submission: JobSubmission,
  runnerId: string,
): Promise<SubmittedJob> {
  const problems = registry.problems(submission.jobType, submission.params ?? {});
  const key = submission.idempotencyKey;
  if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key))
    problems.push(`the Idempotency-Key must be ${IDEMPOTENCY_KEY_RULE}`);
  if (problems.length) throw new JobSubmissionError(problems);
  const type = registry.get(submission.jobType)!;
  const params = withDefaults(type.params, submission.params);
  const digest = key === undefined ? null : requestDigest(submission, type.name, params);
  if (key !== undefined) {
    const earlier = await replay(client, key, digest!);
    if (earlier) return earlier;
  }
  const jobId = randomUUID();
  const chunks = await type.plan(params, {
    client,
    jobId,
    nodeId: submission.nodeId,
    moduleId: submission.moduleId,
    runnerId,
    maxChunks: registry.maxChunksPerJob,
  });
  const tooMany = chunkCountProblem(chunks.length, registry.maxChunksPerJob);
  if (tooMany) throw new JobSubmissionError([tooMany]);
  const empty = chunks.length === 0;
  const { rows } = await client.query<JobRow>(
    `INSERT INTO plexus_batch_job (job_id, job_type, params, status, node_id, module_id, submitted_by,
       schedule_id, total_chunks, finished_at, idempotency_key, request_digest)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $4 = 'succeeded' THEN now() END, $10, $11)
     ON CONFLICT (idempotency_key) DO NOTHING
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
      key ?? null,
      digest,
    ],
  );
  // Nothing inserted: a racing request with the same key committed its job first.
  if (!rows[0]) return (await replay(client, key!, digest!))!;
  if (!empty)
    await client.query(
      `INSERT INTO plexus_batch_chunk (job_id, seq, payload, status, max_attempts)
       SELECT $1, ordinality - 1, value, 'queued', $3 FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY`,
      [jobId, JSON.stringify(chunks), type.maxAttempts ?? 3],
    );
  return { job: toView(rows[0]), replayed: false };
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
  return inTransaction(pool, (client) => insertJob(client, registry, submission, runnerId)).then(
    (submitted) => submitted.job,
  );
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
