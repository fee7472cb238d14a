import { Client } from 'pg';
import { createTestDatabase, SHARED_POSTGRES } from '../../../test/support/databases';
import { createDatabaseIfMissing, Database } from './database';
import { migrations } from './migrations';

describe('replicas of a fresh install starting together (real Postgres)', () => {
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

  it('four replicas opening and migrating the same fresh database at once all go on, and each migration ran once', async () => {
    const db = await createTestDatabase('plexus_race');
    created.push(db);
    const opened: Database[] = [];
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map(async () => {
        const replica = await Database.open(db.url, { poolSize: 1 });
        opened.push(replica);
        await replica.migrate();
      }),
    );
    await Promise.all(opened.map((d) => d.close()));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(
        'SELECT name FROM migrations ORDER BY id',
      );
      expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
    } finally {
      await client.end();
    }
  });
});
