import { Database } from '@plexus/event-store';
import { DATABASE, RELAY_DATABASE } from '../apps/control-plane/src/infra/injection-tokens';
import { createTestDatabase } from './support/databases';
import { RunningControlPlane, startControlPlane } from './support/control-plane';
import { sleep } from '@plexus/common';

/** The settings a pool's connections run with, as Postgres reports them. */
async function settingsOf(db: Database) {
  const client = await db.pool.connect();
  try {
    const show = async (name: string) =>
      Object.values((await client.query(`SHOW ${name}`)).rows[0])[0];
    return {
      statementTimeout: await show('statement_timeout'),
      idleInTransaction: await show('idle_in_transaction_session_timeout'),
    };
  } finally {
    client.release();
  }
}

describe("the control plane's Postgres pools bound statements and idle transactions (real Postgres)", () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane | undefined;

  beforeAll(async () => (testDb = await createTestDatabase()));
  afterEach(async () => {
    await cp?.close();
    cp = undefined;
  });
  afterAll(() => testDb?.drop());

  it('runs with 10 s and 30 s by default, on the main pool and the relay pool', async () => {
    cp = await startControlPlane({ databaseUrl: testDb.url });
    const expected = { statementTimeout: '10s', idleInTransaction: '5s' };
    expect(await settingsOf(cp.app.get<Database>(DATABASE))).toEqual(expected);
    expect(await settingsOf(cp.app.get<Database>(RELAY_DATABASE))).toEqual(expected);
  });

  it('cancels a statement that runs longer than DB_STATEMENT_TIMEOUT_MS (57014)', async () => {
    cp = await startControlPlane({
      databaseUrl: testDb.url,
      env: { DB_STATEMENT_TIMEOUT_MS: '300', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '400' },
    });
    const db = cp.app.get<Database>(DATABASE);
    expect(await settingsOf(db)).toEqual({ statementTimeout: '300ms', idleInTransaction: '400ms' });
    await expect(db.query('SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]); // the pool goes on
  });

  it('ends a transaction left idle longer than DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', async () => {
    cp = await startControlPlane({
      databaseUrl: testDb.url,
      env: { DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '300' },
    });
    const db = cp.app.get<Database>(DATABASE);
    await db.query('CREATE TABLE idle_probe (n int)');
    const idle = db.transaction(async (sql) => {
      await sql.query('INSERT INTO idle_probe VALUES (1)');
      await sleep(2000); // holding the transaction open while doing nothing in it
      await sql.query('SELECT 1');
    });
    // Postgres ended the session (node-postgres then reports the connection as broken)...
    await expect(idle).rejects.toThrow(/idle-in-transaction|terminat|connection error/i);
    // ...rolling the transaction back; the pool goes on with a new connection.
    expect(await db.query('SELECT count(*)::int AS n FROM idle_probe')).toEqual([{ n: 0 }]);
  });
});
