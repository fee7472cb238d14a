import { Client } from 'pg';
import { createTestDatabase } from '../../../../test/support/databases';
import { Database } from '../database';

/**
 * The names every existing database has recorded in its `migrations` table. TypeORM runs a
 * migration whose name is not there, so renaming one (or its class) would run it again.
 */
const RECORDED_NAMES = [
  'EventStore1764000000000',
  'NodeSnapshots1764100000000',
  'AuditIndexes1764200000000',
  'AdminTokens1764300000000',
  'Webhooks1764400000000',
  'NodeScaling1764500000000',
  'ProcessArchive1764650000000',
  'LeaderLeases1764700000000',
];

describe('event-store migrations (real Postgres)', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Database;

  const recorded = async () => {
    const client = new Client({ connectionString: testDb.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT name FROM migrations ORDER BY id');
      return rows.map((r) => r.name as string);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await Database.open(testDb.url);
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('records the names existing databases already have, in order', async () => {
    await db.migrate();
    expect(await recorded()).toEqual(RECORDED_NAMES);
  });

  it('runs none of them again on a migrated database', async () => {
    await db.migrate();
    expect(await recorded()).toEqual(RECORDED_NAMES);
  });
});
