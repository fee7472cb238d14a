import { Sql } from './database';
import { LeaseFence, leaseHeld, LeaseLost } from './leader-lease';
import { LOG_START, LogCursor } from './readMessagesBatch';

export async function readCheckpoint(sql: Sql, name: string): Promise<LogCursor> {
  const [row] = await sql.query<{ transaction_id: string; global_position: string }>(
    'SELECT transaction_id::text AS transaction_id, global_position FROM relay_checkpoints WHERE name = $1',
    [name],
  );
  return row
    ? { transactionId: row.transaction_id, position: String(row.global_position) }
    : LOG_START;
}

/**
 * Moves the relay's cursor. The relay's own connections run with synchronous_commit off (see
 * RelayService): a checkpoint lost in a crash only means re-publishing a batch, which the events
 * stream deduplicates, and it spares the relay a disk flush per batch.
 *
 * With a fence, the cursor moves only while that leadership term is current (in the same
 * statement), so a leader that lost its lease (frozen, cut off) cannot move it when it resumes;
 * throws LeaseLost then.
 */
export async function storeCheckpoint(
  sql: Sql,
  name: string,
  cursor: LogCursor,
  fence?: LeaseFence,
): Promise<void> {
  if (!fence) {
    await sql.query(
      `INSERT INTO relay_checkpoints (name, transaction_id, global_position, updated_at)
       VALUES ($1, $2::xid8, $3, now())
       ON CONFLICT (name) DO UPDATE
         SET transaction_id = EXCLUDED.transaction_id, global_position = EXCLUDED.global_position, updated_at = now()`,
      [name, cursor.transactionId, cursor.position],
    );
    return;
  }
  const stored = await sql.query(
    `INSERT INTO relay_checkpoints (name, transaction_id, global_position, updated_at)
     SELECT $1, $2::xid8, $3, now() WHERE ${leaseHeld('$4', '$5')}
     ON CONFLICT (name) DO UPDATE
       SET transaction_id = EXCLUDED.transaction_id, global_position = EXCLUDED.global_position, updated_at = now()
     RETURNING name`,
    [name, cursor.transactionId, cursor.position, fence.lease, fence.term],
  );
  if (!stored.length) throw new LeaseLost(fence);
}
