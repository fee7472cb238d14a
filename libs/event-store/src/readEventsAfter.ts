import { Sql } from './database';
import { AFTER_CURSOR, HORIZON, LOG_START, LogCursor } from './readMessagesBatch';
import { EventRow, StoredEvent, toStoredEvent } from './stored-event';

/**
 * Where the event at a global position sits in the log (its transaction and position), so that a
 * reader can go on after it in the order the relay published; LOG_START for position 0; null when
 * no event has that position.
 */
export async function logCursorAt(sql: Sql, position: string): Promise<LogCursor | null> {
  if (BigInt(position) === 0n) return LOG_START;
  const [row] = await sql.query<{ transaction_id: string }>(
    `SELECT transaction_id::text AS transaction_id FROM events WHERE global_position = $1::bigint`,
    [position],
  );
  return row ? { transactionId: row.transaction_id, position } : null;
}

/**
 * The next events after `after` in the relay's order (commit-safe, gap-free: see
 * readMessagesBatch), without the node documents the relay also needs. `secret_payload` is never
 * read. An empty batch means the reader has caught up with what can no longer be overtaken.
 */
export async function readEventsAfter(
  sql: Sql,
  after: LogCursor,
  limit: number,
): Promise<{ events: StoredEvent[]; cursor: LogCursor }> {
  const rows = await sql.query<EventRow>(
    `WITH ${HORIZON}
     SELECT event_id, node_id, stream_id, stream_version, global_position, type, payload, metadata,
            recorded_at, transaction_id::text AS transaction_id
     FROM events ${AFTER_CURSOR}
     LIMIT $3`,
    [after.transactionId, after.position, limit],
  );
  const last = rows[rows.length - 1];
  return {
    events: rows.map(toStoredEvent),
    cursor: last
      ? { transactionId: String(last.transaction_id), position: String(last.global_position) }
      : after,
  };
}
