import { Client } from 'pg';
import { createTestDatabase, SHARED_POSTGRES } from '../../../test/support/databases';
import { createDatabaseIfMissing } from './database';

describe('createDatabaseIfMissing: replicas of a fresh install starting together (real Postgres)', () => {
  const created: Awaited<ReturnType<typeof createTestDatabase>>[] = [];
  afterAll(async () => {
    for (const db of created) await db.drop();
  });

  it('four replicas creating the same missing database at once all go on, and the database exists', async () => {
    // Several rounds: which of Postgres's two refusals a loser sees depends on timing.
    for (let round = 0; round < 5; round++) {
      const db = await createTestDatabase('plexus_race');
      created.push(db);
      const results = await Promise.allSettled(
        [1, 2, 3, 4].map(() => createDatabaseIfMissing(db.url)),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const client = new Client({ connectionString: `${SHARED_POSTGRES}/postgres` });
      await client.connect();
      try {
        const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
          db.name,
        ]);
        expect(rowCount).toBe(1);
      } finally {
        await client.end();
      }
    }
  });
});
