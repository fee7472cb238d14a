import { Database } from '@plexus/event-store';
import { createTestDatabase } from './databases';

/** What a test file reads of its database, once its beforeAll has run. */
export interface MigratedTestDatabase {
  readonly db: Database;
  readonly url: string;
}

/**
 * A database of its own for the tests of the calling file (or `describe`), on the shared
 * Postgres: created and migrated before them, closed and dropped after them. Call it before the
 * file's own hooks, which may then use `.db`.
 */
export function migratedTestDatabase(prefix?: string): MigratedTestDatabase {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    testDb = await createTestDatabase(prefix);
    db = await Database.open(testDb.url);
    await db.migrate();
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });
  const opened = <T>(value: T | undefined, what: string): T => {
    if (value === undefined)
      throw new Error(`the test database's ${what} is read before its beforeAll ran`);
    return value;
  };
  return {
    get db() {
      return opened(db, 'connection');
    },
    get url() {
      return opened(testDb, 'URL').url;
    },
  };
}
