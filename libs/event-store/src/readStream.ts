import { NodeEvent } from '@plexus/domain';
import { Sql } from './database';

/**
 * The domain events of a node's stream up to a version or a moment, with secrets in clear,
 * for rebuilding the document as it was (time travel). Never returned to clients as is.
 */
export async function readNodeStream(
  sql: Sql,
  nodeId: string,
  upTo: { version?: number; asOf?: Date } = {},
): Promise<NodeEvent[]> {
  const rows = await sql.query<{ type: string; payload: any; secret_payload: any }>(
    `SELECT type, payload, secret_payload FROM events
     WHERE stream_id = $1
       AND ($2::int IS NULL OR stream_version <= $2)
       AND ($3::timestamptz IS NULL OR recorded_at <= $3)
     ORDER BY stream_version`,
    [nodeId, upTo.version ?? null, upTo.asOf ?? null],
  );
  return rows.map((r) => ({ type: r.type, data: r.secret_payload ?? r.payload }) as NodeEvent);
}
