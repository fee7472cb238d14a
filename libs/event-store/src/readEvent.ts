import { Sql } from './database';
import { EventRow, StoredEvent, toStoredEvent } from './stored-event';

/** One event by its ID, as it may be shown (redacted payload; `secret_payload` is never read). */
export async function readEvent(sql: Sql, eventId: string): Promise<StoredEvent | null> {
  const [row] = await sql.query<EventRow>(
    `SELECT event_id, node_id, stream_id, stream_version, global_position, type, payload, metadata,
            recorded_at
     FROM events WHERE event_id = $1::uuid`,
    [eventId],
  );
  return row ? toStoredEvent(row) : null;
}
