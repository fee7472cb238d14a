import { emptyNode, evolve, NodeDocument, NodeEvent } from '@plexus/domain';
import { SNAPSHOT_EVERY } from './appendNodeWrites';
import { Sql } from './database';

export interface PointInHistory {
  version?: number;
  asOf?: Date;
}

/**
 * A node's document as it was at a version or a moment, secrets in clear (for diff and revert;
 * callers redact before answering). Starts from the latest snapshot at or before that point and
 * replays the events after it, so the cost does not grow with the stream. Returns null when the
 * node had no events by then.
 */
export async function readNodeDocumentAt(
  sql: Sql,
  nodeId: string,
  at: PointInHistory,
): Promise<NodeDocument | null> {
  const [snapshot] = await sql.query<{ version: number; document: NodeDocument }>(
    `SELECT version, document FROM node_snapshots
     WHERE node_id = $1 AND ($2::int IS NULL OR version <= $2) AND ($3::timestamptz IS NULL OR recorded_at <= $3)
     ORDER BY version DESC LIMIT 1`,
    [nodeId, at.version ?? null, at.asOf ?? null],
  );
  const rows = await sql.query<{
    stream_version: number;
    type: string;
    payload: any;
    secret_payload: any;
    recorded_at: Date;
  }>(
    `SELECT stream_version, type, payload, secret_payload, recorded_at FROM events
     WHERE stream_id = $1 AND stream_version > $2
       AND ($3::int IS NULL OR stream_version <= $3)
       AND ($4::timestamptz IS NULL OR recorded_at <= $4)
     ORDER BY stream_version`,
    [nodeId, snapshot?.version ?? 0, at.version ?? null, at.asOf ?? null],
  );
  if (!snapshot && !rows.length) return null;
  let doc = snapshot?.document ?? emptyNode(nodeId);
  const missing: { version: number; recordedAt: Date; document: NodeDocument }[] = [];
  for (const row of rows) {
    doc = evolve(doc, { type: row.type, data: row.secret_payload ?? row.payload } as NodeEvent);
    // Streams written before snapshots existed (or imported) get them on the way.
    if (doc.version % SNAPSHOT_EVERY === 0)
      missing.push({ version: doc.version, recordedAt: row.recorded_at, document: doc });
  }
  if (missing.length) await saveSnapshots(sql, nodeId, missing);
  return doc;
}

async function saveSnapshots(
  sql: Sql,
  nodeId: string,
  snapshots: { version: number; recordedAt: Date; document: NodeDocument }[],
) {
  await sql.query(
    `INSERT INTO node_snapshots (node_id, version, recorded_at, document)
     SELECT $1, s.version, s.recorded_at, s.document
     FROM unnest($2::int[], $3::timestamptz[], $4::jsonb[]) AS s(version, recorded_at, document)
     ON CONFLICT DO NOTHING`,
    [
      nodeId,
      snapshots.map((s) => s.version),
      snapshots.map((s) => s.recordedAt),
      snapshots.map((s) => JSON.stringify(s.document)),
    ],
  );
}
