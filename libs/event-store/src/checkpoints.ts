import { Sql } from './database';
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
 */
export async function storeCheckpoint(sql: Sql, name: string, cursor: LogCursor): Promise<void> {
  await sql.query(
    `INSERT INTO relay_checkpoints (name, transaction_id, global_position, updated_at)
     VALUES ($1, $2::xid8, $3, now())
     ON CONFLICT (name) DO UPDATE
       SET transaction_id = EXCLUDED.transaction_id, global_position = EXCLUDED.global_position, updated_at = now()`,
    [name, cursor.transactionId, cursor.position],
  );
}
