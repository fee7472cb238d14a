import { Client } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';
import { migrations } from '../../../migrations';

/** The one thing every SQL operation file needs: run a statement, get rows back. */
export interface Sql {
  query<T = Record<string, any>>(text: string, params?: unknown[]): Promise<T[]>;
}

const runnerSql = (runner: QueryRunner): Sql => ({
  async query<T>(text: string, params?: unknown[]) {
    return (await runner.query(text, params, true)).records as T[];
  },
});

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/plexus';

/** Postgres through TypeORM's pool: plain SQL per operation, transactions, migrations. */
export class Database implements Sql {
  private constructor(readonly dataSource: DataSource) {}

  static async open(url: string, options: { poolSize?: number } = {}): Promise<Database> {
    await createDatabaseIfMissing(url);
    const dataSource = new DataSource({
      type: 'postgres',
      url,
      migrations,
      migrationsRun: false,
      synchronize: false,
      logging: false,
      // Fail fast when Postgres is unreachable, so callers answer 503 instead of hanging.
      connectTimeoutMS: 1000,
      extra: { max: options.poolSize ?? 20, connectionTimeoutMillis: 1000 },
    });
    await dataSource.initialize();
    return new Database(dataSource);
  }

  async migrate(): Promise<void> {
    await this.dataSource.runMigrations({ transaction: 'each' });
  }

  async query<T = Record<string, any>>(text: string, params?: unknown[]): Promise<T[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await runnerSql(runner).query<T>(text, params);
    } finally {
      await runner.release();
    }
  }

  async transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      const result = await work(runnerSql(runner));
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
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
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently by another replica
      });
    }
  } finally {
    await client.end();
  }
}
