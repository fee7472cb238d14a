import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase } from './support/databases';
import { RunningControlPlane, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';
import { sleep } from '@plexus/common';

/**
 * Group commit keeps writes waiting while GROUP_COMMIT_IN_FLIGHT (2 here) statements are in flight.
 * A write whose caller was answered 503 (the 1 s Postgres timeout) while it was still waiting
 * must never be stored afterwards.
 */
describe('a write that times out before it reaches Postgres (real Postgres)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  const suffix = randomBytes(3).toString('hex');
  const [stuckA, stuckB, queued] = [`stuck-a-${suffix}`, `stuck-b-${suffix}`, `queued-${suffix}`];

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane({ databaseUrl: db.url, env: { GROUP_COMMIT_IN_FLIGHT: '2' } });
    for (const node of [stuckA, stuckB, queued])
      expect((await cp.api.put(`/nodes/${node}`, { properties: {} })).status).toBe(201);
  });
  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  it('answers 503 and stores nothing, while the statements it waited behind go on', async () => {
    // Another session holds the rows of two nodes: a write to each fills one in-flight slot.
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM node_documents WHERE node_id = ANY($1) FOR UPDATE', [
        [stuckA, stuckB],
      ]);
      const change = (node: string) => cp.api.put(`/nodes/${node}`, { properties: { k: 'v' } });
      const blocked = [change(stuckA), change(stuckB)];
      await waitFor('both writes waiting on the locked rows', async () => {
        // Inside a transaction Postgres answers pg_stat_activity from a snapshot taken at its
        // first read: clear it, or the locker's open transaction sees the same rows forever.
        await locker.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await locker.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return rows[0].n === 2;
      });
      const waiting = await change(queued); // no free slot: waits, then times out
      expect(waiting.status).toBe(503);
      expect(waiting.headers.get('retry-after')).toBe('2');
      expect(waiting.ms).toBeLessThan(2000);
      expect((await Promise.all(blocked)).map((r) => r.status)).toEqual([503, 503]);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    // The blocked statements now finish; the abandoned write must not follow them (a fixed
    // wait: that it is not stored through it is what is tested).
    await sleep(1500);
    // The Postgres breaker may still be open after three timeouts: read once it lets us.
    const node = await waitFor(
      'the node readable again',
      async () => {
        const res = await cp.api.get(`/nodes/${queued}`);
        return res.status === 200 && res.body;
      },
      10_000,
      200,
    );
    expect(node).toMatchObject({ version: 1, properties: {} });
  });
});
