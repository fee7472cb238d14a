import { Client } from 'pg';
import { createTestDatabase } from '../../../test/support/databases';
import { waitFor } from '../../../test/support/ports';
import { Database, Sql } from './database';

/** A real Postgres error with the given SQLSTATE, raised by the server. */
const RAISE = (code: string) =>
  `DO $$ BEGIN RAISE EXCEPTION 'forced by the test' USING ERRCODE = '${code}'; END $$`;

describe('Database: transient conflicts are tried again (real Postgres)', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Database;
  let observer: Client;

  /** Sessions of the test database waiting for a lock. */
  const waitingForLocks = async () =>
    Number(
      (
        await observer.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
          [testDb.name],
        )
      ).rows[0].n,
    );

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await Database.open(testDb.url, { poolSize: 4 });
    await db.query('CREATE TABLE pair (id int PRIMARY KEY, v int NOT NULL)');
    observer = new Client({ connectionString: testDb.url });
    await observer.connect();
  });
  beforeEach(() => db.query('TRUNCATE pair; INSERT INTO pair VALUES (1, 0), (2, 0)'));
  afterAll(async () => {
    await observer?.end();
    await db?.close();
    await testDb?.drop();
  });

  it('two transactions locking two rows in opposite orders both succeed: the deadlock victim runs again', async () => {
    const attempts = { forward: 0, backward: 0 };
    let release!: () => void;
    const bothHoldOne = new Promise<void>((resolve) => (release = resolve));
    let holding = 0;
    const lockBoth = (name: 'forward' | 'backward', order: [number, number]) =>
      db.transaction(async (sql: Sql) => {
        attempts[name]++;
        await sql.query('UPDATE pair SET v = v + 1 WHERE id = $1', [order[0]]);
        if (attempts[name] === 1) {
          // First attempt: wait until the other holds its first row, so the two cross.
          if (++holding === 2) release();
          await bothHoldOne;
        }
        await sql.query('UPDATE pair SET v = v + 1 WHERE id = $1', [order[1]]);
        return name;
      });

    const results = await Promise.allSettled([
      lockBoth('forward', [1, 2]),
      lockBoth('backward', [2, 1]),
    ]);

    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason)))).toEqual([
      'forward',
      'backward',
    ]);
    expect(attempts.forward + attempts.backward).toBe(3); // the victim ran once more
    expect(await db.query('SELECT id, v FROM pair ORDER BY id')).toEqual([
      { id: 1, v: 2 },
      { id: 2, v: 2 },
    ]);
  });

  it('a single statement chosen as a deadlock victim is sent again', async () => {
    const other = new Client({ connectionString: testDb.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('UPDATE pair SET v = v + 10 WHERE id = 2');
      // The statement locks row 1, then waits for row 2...
      const statement = db.query<{ id: number }>(
        'SELECT id FROM pair WHERE id IN (1, 2) ORDER BY id FOR UPDATE',
      );
      await waitFor('the statement to wait for row 2', async () => (await waitingForLocks()) === 1);
      // ...which the other session holds while it waits for row 1: a cycle. The statement
      // waited first, so its deadlock check runs first and it is the one Postgres aborts.
      await other.query('UPDATE pair SET v = v + 10 WHERE id = 1');
      await other.query('COMMIT');
      expect(await statement).toEqual([{ id: 1 }, { id: 2 }]);
    } finally {
      await other.end();
    }
  });

  it('gives up after a bounded number of attempts and hands on the conflict', async () => {
    let attempts = 0;
    const failing = db.transaction(async (sql) => {
      attempts++;
      await sql.query(RAISE('40P01'));
    });
    await expect(failing).rejects.toMatchObject({ code: '40P01' });
    expect(attempts).toBe(4);

    await expect(db.query(RAISE('40001'))).rejects.toMatchObject({ code: '40001' });
  });

  it('does not repeat other errors', async () => {
    let attempts = 0;
    const failing = db.transaction(async (sql) => {
      attempts++;
      await sql.query(RAISE('23505'));
    });
    await expect(failing).rejects.toMatchObject({ code: '23505' });
    expect(attempts).toBe(1);
  });
});
