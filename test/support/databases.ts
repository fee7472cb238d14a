import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { recordLeftovers } from './leftover-nodes';

export const SHARED_POSTGRES =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';

/**
 * A database of its own for one test file, on the shared Postgres; drop() removes it, after
 * noting its nodes for the run's purge of the shared NATS (test/support/shared-nats-cleanup.ts).
 */
export async function createTestDatabase(prefix = 'plexus_t') {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const url = `${SHARED_POSTGRES}/${name}`;
  return {
    name,
    url,
    async drop() {
      await recordLeftovers(url);
      const client = new Client({ connectionString: `${SHARED_POSTGRES}/postgres` });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
