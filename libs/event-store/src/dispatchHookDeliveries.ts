import { readCheckpoint, storeCheckpoint } from './checkpoints';
import { Database } from './database';
import { LeaseFence } from './leader-lease';
import { AFTER_CURSOR, HORIZON } from './readMessagesBatch';

/** The dispatcher's checkpoint in relay_checkpoints. */
export const HOOK_DISPATCH_CHECKPOINT = 'webhooks';

/**
 * Follows the event log the way the relay does (gap-free: see readMessagesBatch) with its own
 * checkpoint, and makes a pending delivery for every live hook that wants each event. The rows
 * and the checkpoint move in one transaction, so a crash repeats or loses nothing; a delivery
 * exists at most once per hook and event (hook_deliveries_once), so two replicas racing during a
 * leadership change make no duplicates either.
 *
 * A hook takes events of transactions after its own (`transaction_id > start_transaction_id`):
 * while the creating transaction runs, the horizon keeps this reader behind it, and once the
 * reader passes it the hook is committed and visible, so no event of a later transaction is missed.
 *
 * With a fence (the leadership term of the caller), the checkpoint moves only while that term is
 * current; otherwise it throws LeaseLost and the transaction, deliveries included, rolls back.
 */
export async function dispatchHookDeliveries(
  db: Database,
  limit: number,
  name = HOOK_DISPATCH_CHECKPOINT,
  fence?: LeaseFence,
): Promise<{ read: number; dispatched: number }> {
  return db.transaction(async (sql) => {
    const after = await readCheckpoint(sql, name);
    const [row] = await sql.query<{
      read: number;
      dispatched: number;
      transaction_id: string | null;
      global_position: string | null;
    }>(
      `WITH ${HORIZON},
       batch AS (
         SELECT event_id, type, transaction_id, global_position
         FROM events ${AFTER_CURSOR}
         LIMIT $3),
       dispatched AS (
         INSERT INTO hook_deliveries (delivery_id, hook_id, event_id, event_type, next_attempt_at)
         SELECT gen_random_uuid(), h.id, b.event_id, b.type, now()
         FROM batch b
         JOIN hooks h ON h.deleted_at IS NULL
                     AND b.transaction_id > h.start_transaction_id
                     AND ('*' = ANY (h.events) OR b.type = ANY (h.events))
         ORDER BY b.transaction_id, b.global_position, h.id
         ON CONFLICT ON CONSTRAINT hook_deliveries_once DO NOTHING
         RETURNING 1),
       last AS (
         SELECT transaction_id, global_position FROM batch
         ORDER BY transaction_id DESC, global_position DESC LIMIT 1)
       SELECT (SELECT count(*) FROM batch)::int AS read,
              (SELECT count(*) FROM dispatched)::int AS dispatched,
              (SELECT transaction_id::text FROM last) AS transaction_id,
              (SELECT global_position FROM last) AS global_position`,
      [after.transactionId, after.position, limit],
    );
    if (row.read > 0)
      await storeCheckpoint(
        sql,
        name,
        {
          transactionId: row.transaction_id!,
          position: String(row.global_position),
        },
        fence,
      );
    return { read: row.read, dispatched: row.dispatched };
  });
}
