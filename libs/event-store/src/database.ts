import { Client, Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { migrations } from './migrations';
import { sleep } from '@plexus/common';

/** Any 64-bit number no other lock in this database uses: "plexus event-store schema". */
const MIGRATION_LOCK = '7312904611200400';

/** The one thing every SQL operation file needs: run a statement, get rows back. */
export interface Sql {
  /**
   * `name` makes it a prepared statement: each connection has Postgres parse and plan it once,
   * and later calls send only the parameters. For hot statements with fixed text only.
   */
  query<T = Record<string, any>>(text: string, params?: unknown[], name?: string): Promise<T[]>;
}

const clientSql = (client: PoolClient): Sql => ({
  async query<T>(text: string, params?: unknown[], name?: string) {
    const result = name
      ? await client.query({ name, text, values: params })
      : await client.query(text, params);
    return result.rows as T[];
  },
});

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/plexus';

/**
 * Postgres aborted the statement or transaction so that a concurrent one could go on
 * (deadlock_detected, serialization_failure): nothing of it is stored, and running it again
 * usually succeeds.
 */
export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

export interface ConflictRetry {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The wait before the n-th retry is random in [0, baseDelayMs * 2^(n-1)] (full jitter). */
  baseDelayMs: number;
}

/** Up to 4 attempts, waiting at most 20, 40, then 80 ms in between. */
export const DEFAULT_CONFLICT_RETRY: ConflictRetry = { attempts: 4, baseDelayMs: 20 };

export interface DatabaseOptions {
  poolSize?: number;
  synchronousCommit?: boolean;
  /** How statements and transactions that lose a deadlock (or serialization) are retried. */
  conflictRetry?: ConflictRetry;
  /**
   * Postgres cancels a statement that runs longer (57014) and ends a session that sits idle in
   * an open transaction longer, releasing its locks; unset or 0: the server's settings apply.
   */
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
}

/**
 * Postgres access. TypeORM runs the migrations; statements go through node-postgres's pool
 * directly, because TypeORM's query runner added about 0.3 ms to every statement (measured:
 * `SELECT 1` 0.41 ms through it), and a write is several statements.
 */
export class Database implements Sql {
  private constructor(
    private readonly url: string,
    readonly pool: Pool,
    private readonly retry: ConflictRetry,
  ) {}

  static async open(url: string, options: DatabaseOptions = {}): Promise<Database> {
    await createDatabaseIfMissing(url);
    const pool = new Pool({
      connectionString: url,
      max: options.poolSize ?? 20,
      ...(options.synchronousCommit === false ? { options: '-c synchronous_commit=off' } : {}),
      // Sent in the startup packet, so every connection of the pool has them from its start.
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
      ...(options.idleInTransactionTimeoutMs
        ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs }
        : {}),
      // Fail fast when Postgres is unreachable, so callers answer 503 instead of hanging.
      connectionTimeoutMillis: 1000,
    });
    pool.on('error', () => undefined); // an idle client lost its server: the pool drops it
    return new Database(url, pool, options.conflictRetry ?? DEFAULT_CONFLICT_RETRY);
  }

  /**
   * Brings the schema up to date. Replicas starting together on a fresh database take turns on an
   * advisory lock: TypeORM's runner does not, and two creating the same table at once fail on
   * Postgres's catalogue. The lock is a session's, so it goes with a replica that dies meanwhile.
   */
  async migrate(): Promise<void> {
    const lock = new Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
    lock.on('error', () => undefined); // a lost server fails the statements below instead
    await lock.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      const dataSource = new DataSource({
        type: 'postgres',
        url: this.url,
        migrations,
        synchronize: false,
        logging: false,
      });
      await dataSource.initialize();
      try {
        await dataSource.runMigrations({ transaction: 'each' });
      } finally {
        await dataSource.destroy();
      }
    } finally {
      await lock.end(); // ends the session, and with it the lock
    }
  }

  /**
   * Runs `attempt` again, after a short random wait, while it fails with a transient conflict,
   * up to `retry.attempts` times in all; then hands on the last error (the HTTP layer answers it
   * with 503 and Retry-After).
   */
  private async retryConflicts<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (!isTransientConflict(err) || n >= this.retry.attempts) throw err;
        await sleep(Math.random() * this.retry.baseDelayMs * 2 ** (n - 1));
      }
    }
  }

  /** One statement in its own transaction; a deadlock's victim is sent again (see retryConflicts). */
  query<T = Record<string, any>>(text: string, params?: unknown[], name?: string): Promise<T[]> {
    return this.retryConflicts(async () => {
      // A config object costs pg a descriptor-by-descriptor copy: only where a name needs one.
      const result = name
        ? await this.pool.query({ name, text, values: params })
        : await this.pool.query(text, params);
      return result.rows as T[];
    });
  }

  /**
   * Runs `work` in a transaction. A transaction that loses a deadlock (or a serialization
   * conflict) is rolled back and run again from the start, so `work` may run more than once: it
   * must do nothing outside the transaction that cannot be repeated.
   */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.retryConflicts(() => this.transactionOnce(work));
  }

  private async transactionOnce<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // A server that dies mid-transaction makes the client emit 'error'; the failing query reports it.
    const ignore = () => (broken = true);
    client.on('error', ignore);
    try {
      await client.query('BEGIN');
      const result = await work(clientSql(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.off('error', ignore);
      client.release(broken); // a broken connection is discarded, not reused
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * Opens and migrates the database, retrying while Postgres does not answer (`isUnreachable` says
 * which errors mean that): a control plane started before (or while) its database comes up waits
 * for it, up to `timeoutMs`, instead of exiting on the first refused or slow connection. Each
 * attempt keeps the short connect timeout.
 */
export async function openMigratedDatabase(
  url: string,
  timeoutMs: number,
  isUnreachable: (err: unknown) => boolean,
  onRetry: (err: Error, attempt: number) => void = () => undefined,
  options: DatabaseOptions = {},
): Promise<Database> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    let db: Database | undefined;
    try {
      db = await Database.open(url, options);
      await db.migrate(); // on a connection of its own, without the pool's timeouts
      return db;
    } catch (err) {
      await db?.close();
      if (!isUnreachable(err) || Date.now() + 500 > deadline) throw err;
      onRetry(err as Error, attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2000)));
    }
  }
}

/** DESIGN.md: the database is created when missing. */
export async function createDatabaseIfMissing(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 1000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client
        .query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
        .catch((err: { code?: string; constraint?: string }) => {
          // Created concurrently by another replica: Postgres says so with 42P04 when the other
          // commit came first, or with a unique violation on the catalogue when both were
          // inserting at once (every replica of a fresh install starting together).
          const raced =
            err.code === '42P04' ||
            (err.code === '23505' && err.constraint === 'pg_database_datname_index');
          if (!raced) throw err;
        });
    }
  } finally {
    await client.end();
  }
}
