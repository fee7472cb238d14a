import type { Pool, PoolClient } from 'pg';
import { JobParams } from './job-types';

/** A chunk a runner holds a lease on. */
export interface ClaimedChunk {
  jobId: string;
  seq: number;
  payload: unknown;
  attempt: number;
  maxAttempts: number;
  jobType: string;
  params: JobParams;
  nodeId: string;
  moduleId: string;
}

/**
 * Takes the next chunk to run: a queued one whose retry delay has passed, or one whose lease
 * expired (its process died between claiming and starting, or died while working: its row
 * lock went with its connection). Rows being worked on are locked, so SKIP LOCKED passes them.
 */
export async function claimChunk(
  pool: Pool,
  runnerId: string,
  leaseMs: number,
): Promise<ClaimedChunk | null> {
  const { rows } = await pool.query(
    `WITH next AS (
       SELECT c.job_id, c.seq, j.job_type, j.params, j.node_id, j.module_id
       FROM plexus_batch_chunk c JOIN plexus_batch_job j ON j.job_id = c.job_id
       WHERE j.status IN ('queued', 'running')
         AND ((c.status = 'queued' AND c.not_before <= now())
           OR (c.status = 'running' AND c.lease_until < now() AND c.attempts < c.max_attempts))
       ORDER BY j.created_at, c.seq
       LIMIT 1
       FOR UPDATE OF c SKIP LOCKED)
     UPDATE plexus_batch_chunk c
     SET status = 'running', lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond',
         attempts = c.attempts + 1, started_at = now()
     FROM next WHERE c.job_id = next.job_id AND c.seq = next.seq
     RETURNING c.job_id, c.seq, c.payload, c.attempts, c.max_attempts,
               next.job_type, next.params, next.node_id, next.module_id`,
    [runnerId, leaseMs],
  );
  const r = rows[0];
  if (!r) return null;
  await pool.query(
    `UPDATE plexus_batch_job SET status = 'running', started_at = now()
     WHERE job_id = $1 AND status = 'queued'`,
    [r.job_id],
  );
  return {
    jobId: r.job_id,
    seq: r.seq,
    payload: r.payload,
    attempt: r.attempts,
    maxAttempts: r.max_attempts,
    jobType: r.job_type,
    params: r.params,
    nodeId: r.node_id,
    moduleId: r.module_id,
  };
}

/**
 * In the chunk's work transaction: locks the chunk if this runner still holds its lease. False
 * when another runner took it over (our lease expired), so the work must not be done.
 */
export async function lockOwnChunk(client: PoolClient, chunk: ClaimedChunk, runnerId: string) {
  const { rowCount } = await client.query(
    `SELECT 1 FROM plexus_batch_chunk
     WHERE job_id = $1 AND seq = $2 AND lease_owner = $3 AND status = 'running' FOR UPDATE`,
    [chunk.jobId, chunk.seq, runnerId],
  );
  return rowCount === 1;
}

/** In the chunk's work transaction: marks it done and counts it; the job succeeds with its last chunk. */
export async function completeChunk(client: PoolClient, chunk: ClaimedChunk, runnerId: string) {
  await client.query(
    `UPDATE plexus_batch_chunk SET status = 'done', done_by = $3, finished_at = now(), lease_until = NULL
     WHERE job_id = $1 AND seq = $2`,
    [chunk.jobId, chunk.seq, runnerId],
  );
  await client.query(
    `UPDATE plexus_batch_job SET done_chunks = done_chunks + 1,
       status = CASE WHEN status IN ('queued', 'running') AND done_chunks + 1 + failed_chunks >= total_chunks
                     THEN 'succeeded' ELSE status END,
       finished_at = CASE WHEN status IN ('queued', 'running') AND done_chunks + 1 + failed_chunks >= total_chunks
                          THEN now() ELSE finished_at END
     WHERE job_id = $1`,
    [chunk.jobId],
  );
}

async function failJob(client: PoolClient, jobId: string, error: string) {
  await client.query(
    `UPDATE plexus_batch_job SET failed_chunks = failed_chunks + 1,
       error = coalesce(error, $2),
       status = CASE WHEN status IN ('queued', 'running') THEN 'failed' ELSE status END,
       finished_at = coalesce(finished_at, now())
     WHERE job_id = $1`,
    [jobId, error],
  );
  // The job has failed: what has not started will not.
  await client.query(
    `UPDATE plexus_batch_chunk SET status = 'cancelled' WHERE job_id = $1 AND status = 'queued'`,
    [jobId],
  );
}

/**
 * After a failed attempt (its transaction rolled back): queue the chunk again after a delay, or,
 * at its last attempt, fail it and its job with the error. Returns the chunk's new status, or
 * null when this runner no longer held it.
 */
export async function recordChunkFailure(
  pool: Pool,
  chunk: ClaimedChunk,
  runnerId: string,
  error: string,
  retryDelayMs: number,
): Promise<'queued' | 'failed' | null> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ status: 'queued' | 'failed'; attempts: number }>(
      `UPDATE plexus_batch_chunk SET
         status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
         last_error = $4, lease_owner = NULL, lease_until = NULL,
         not_before = now() + $5 * interval '1 millisecond',
         finished_at = CASE WHEN attempts >= max_attempts THEN now() END
       WHERE job_id = $1 AND seq = $2 AND lease_owner = $3 AND status = 'running'
       RETURNING status, attempts`,
      [chunk.jobId, chunk.seq, runnerId, error.slice(0, 2000), retryDelayMs],
    );
    const row = rows[0];
    if (row?.status === 'failed')
      await failJob(
        client,
        chunk.jobId,
        `chunk ${chunk.seq} failed after ${row.attempts} attempts: ${error}`.slice(0, 2000),
      );
    await client.query('COMMIT');
    return row?.status ?? null;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Fails chunks whose lease expired on their last attempt (the process that had them died each
 * time), and their jobs. Locked rows are being worked on by a live process and are left alone.
 */
export async function failAbandonedChunks(pool: Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ job_id: string; seq: number; attempts: number }>(
      `WITH dead AS (
         SELECT job_id, seq FROM plexus_batch_chunk
         WHERE status = 'running' AND lease_until < now() AND attempts >= max_attempts
         FOR UPDATE SKIP LOCKED)
       UPDATE plexus_batch_chunk c SET status = 'failed', finished_at = now(), lease_owner = NULL,
         last_error = 'the process running it stopped before finishing (lease expired)'
       FROM dead WHERE c.job_id = dead.job_id AND c.seq = dead.seq
       RETURNING c.job_id, c.seq, c.attempts`,
    );
    for (const r of rows)
      await failJob(
        client,
        r.job_id,
        `chunk ${r.seq} failed after ${r.attempts} attempts: the process running it stopped before finishing`,
      );
    await client.query('COMMIT');
    return rows.length;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
