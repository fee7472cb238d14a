import { randomUUID } from 'node:crypto';
import { migratedTestDatabase } from '../../../test/support/migrated-database';
import { appendToStream } from './appendToStream';
import { LOG_START, readMessagesBatch } from './readMessagesBatch';

// A log Postgres has not analyzed yet, with payloads of a realistic size: the planner then chose
// to walk the relay index from the start when the cursor was not an index bound.
const TRANSACTIONS = 2000;
const EVENTS_PER_TRANSACTION = 16;

describe('readMessagesBatch on a long log (real Postgres)', () => {
  const store = migratedTestDatabase();

  beforeAll(async () => {
    for (let t = 0; t < TRANSACTIONS; t++)
      await appendToStream(
        store.db,
        `node-${t}`,
        `node-${t}`,
        0,
        Array.from({ length: EVENTS_PER_TRANSACTION }, (_, i) => ({
          eventId: randomUUID(),
          type: 'NodePropertiesChanged',
          data: { n: i, note: 'x'.repeat(100) },
          metadata: { actor: 'test', correlationId: `t${t}` },
        })),
      );
  });

  it('reads on from its cursor, not from the start of the log', async () => {
    const total = TRANSACTIONS * EVENTS_PER_TRANSACTION;
    const all = await readMessagesBatch(store.db, LOG_START, total);
    expect(all.events).toHaveLength(total);
    const { cursor } = await readMessagesBatch(store.db, LOG_START, total - 50);

    // Index entries the read went through, as Postgres counts them (its per-backend counters are
    // not flushed inside a transaction block): a relay that scanned the log from its start on
    // every batch slowed down as the log grew.
    const { events, scanned } = await store.db.transaction(async (sql) => {
      const indexEntriesRead = async () => {
        const [row] = await sql.query<{ n: string }>(
          `SELECT pg_stat_get_xact_tuples_returned('events_relay_order'::regclass) AS n`,
        );
        return Number(row.n);
      };
      // The statement is prepared: after five runs Postgres may plan it once for any cursor
      // (a generic plan), and that plan must bound the scan too.
      for (let i = 0; i < 6; i++) await readMessagesBatch(sql, cursor, 500);
      const before = await indexEntriesRead();
      const batch = await readMessagesBatch(sql, cursor, 500);
      return { events: batch.events, scanned: (await indexEntriesRead()) - before };
    });

    expect(events.map((e) => e.eventId)).toEqual(
      all.events.slice(total - 50).map((e) => e.eventId),
    );
    expect(scanned).toBeLessThanOrEqual(events.length + 1);
  });
});
