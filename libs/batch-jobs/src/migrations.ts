import type { Pool } from 'pg';

/**
 * The batch-job store's schema, in order. Each entry runs once per database, in a transaction,
 * and is recorded in plexus_batch_schema_version; never edit one that has shipped, add another.
 */
export const BATCH_JOB_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'jobs, chunks, schedules',
    sql: `
      CREATE TABLE plexus_batch_job (
        job_id uuid PRIMARY KEY,
        job_type text NOT NULL,
        params jsonb NOT NULL DEFAULT '{}',
        status text NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled')),
        node_id text NOT NULL,
        module_id text NOT NULL,
        submitted_by text NOT NULL,
        schedule_id text,
        total_chunks int NOT NULL,
        done_chunks int NOT NULL DEFAULT 0,
        failed_chunks int NOT NULL DEFAULT 0,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      );
      CREATE INDEX plexus_batch_job_created ON plexus_batch_job (created_at DESC);
      CREATE INDEX plexus_batch_job_active ON plexus_batch_job (created_at) WHERE status IN ('queued','running');

      CREATE TABLE plexus_batch_chunk (
        job_id uuid NOT NULL REFERENCES plexus_batch_job ON DELETE CASCADE,
        seq int NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('queued','running','done','failed','cancelled')),
        attempts int NOT NULL DEFAULT 0,
        max_attempts int NOT NULL,
        not_before timestamptz NOT NULL DEFAULT now(),
        lease_owner text,
        lease_until timestamptz,
        done_by text,
        last_error text,
        started_at timestamptz,
        finished_at timestamptz,
        PRIMARY KEY (job_id, seq)
      );
      -- What runners claim from: small, because finished chunks leave it.
      CREATE INDEX plexus_batch_chunk_claimable ON plexus_batch_chunk (job_id, seq) WHERE status IN ('queued','running');

      CREATE TABLE plexus_batch_schedule (
        schedule_id text PRIMARY KEY,
        job_type text NOT NULL,
        params jsonb NOT NULL DEFAULT '{}',
        every_ms bigint NOT NULL CHECK (every_ms >= 100),
        next_due_at timestamptz NOT NULL,
        enabled boolean NOT NULL DEFAULT true
      );
      -- One row per due time that fired: the primary key makes a second firing impossible.
      CREATE TABLE plexus_batch_schedule_fire (
        schedule_id text NOT NULL REFERENCES plexus_batch_schedule ON DELETE CASCADE,
        due_at timestamptz NOT NULL,
        job_id uuid NOT NULL,
        fired_by text NOT NULL,
        fired_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (schedule_id, due_at)
      );

      -- Written by the built-in sample-rows job type. No unique key on purpose: a chunk done
      -- twice would show as duplicate (job_id, n) rows.
      CREATE TABLE plexus_batch_sample_rows (
        job_id uuid NOT NULL,
        n int NOT NULL,
        written_by text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now(),
        digest text NOT NULL
      );
      CREATE INDEX plexus_batch_sample_rows_job ON plexus_batch_sample_rows (job_id, n);
    `,
  },
  {
    version: 2,
    name: 'schedules remember their last firing and error',
    sql: `
      ALTER TABLE plexus_batch_schedule ADD COLUMN last_fired_at timestamptz, ADD COLUMN last_error text;
    `,
  },
  {
    version: 3,
    name: 'idempotency keys of submitted jobs',
    sql: `
      -- A client's retry with the same Idempotency-Key finds the job its first request created;
      -- the unique key makes two racing retries create one job. request_digest tells a retry
      -- from another request that reuses the key.
      ALTER TABLE plexus_batch_job ADD COLUMN idempotency_key text, ADD COLUMN request_digest text,
        ADD CONSTRAINT plexus_batch_job_idempotency_key UNIQUE (idempotency_key);
    `,
  },
];

/** Any 64-bit number no other lock in these databases uses: "plexus batch schema". */
const MIGRATION_LOCK = 7_312_904_611_200_401n;

/**
 * Brings the store's schema up to date. Safe when several processes start at once: they
 * serialize on an advisory lock, and each applies only versions not yet recorded.
 */
export async function migrateBatchJobStore(pool: Pool): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS plexus_batch_schema_version (
        version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: number }>(
        'SELECT version FROM plexus_batch_schema_version',
      );
      const done = new Set(rows.map((r) => r.version));
      for (const m of BATCH_JOB_MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query(
            'INSERT INTO plexus_batch_schema_version (version, name) VALUES ($1, $2)',
            [m.version, m.name],
          );
          await client.query('COMMIT');
          applied.push(m.version);
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]);
    }
  } finally {
    client.release();
  }
  return applied;
}
