import { NodeDocument } from '@plexus/domain';
import { Sql } from './database';
import { NewEvent } from './stored-event';

export class StreamVersionConflict extends Error {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
  ) {
    super(`stream ${streamId} is no longer at version ${expectedVersion}`);
  }
}

const INSERT_EVENTS = `
  INSERT INTO events (event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata)
  SELECT e.id, $1, $2::int + e.ord, $3, e.type, e.payload, e.secret_payload, e.metadata
  FROM unnest($4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[], $8::jsonb[]) WITH ORDINALITY
       AS e(id, type, payload, secret_payload, metadata, ord)
  ORDER BY e.ord
  RETURNING global_position`;

/**
 * The same append, with the node read model saved by the same statement (so atomically). It
 * first locks the node's row and checks its version, so it queues behind any other writer of the
 * node instead of deadlocking with it on the (stream, version) key; a stale version appends nothing.
 */
const INSERT_EVENTS_AND_DOCUMENT = `
  WITH current_doc AS (SELECT version FROM node_documents WHERE node_id = $1 FOR UPDATE),
  appended AS (
    INSERT INTO events (event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata)
    SELECT e.id, $1, $2::int + e.ord, $3, e.type, e.payload, e.secret_payload, e.metadata
    FROM unnest($4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[], $8::jsonb[]) WITH ORDINALITY
         AS e(id, type, payload, secret_payload, metadata, ord)
    WHERE coalesce((SELECT version FROM current_doc), 0) = $2::int
    ORDER BY e.ord
    RETURNING global_position),
  projected AS (
    INSERT INTO node_documents (node_id, version, archived, document, updated_at)
    SELECT $1, $9, $10, $11, now() WHERE EXISTS (SELECT 1 FROM appended)
    ON CONFLICT (node_id) DO UPDATE
      SET version = EXCLUDED.version, archived = EXCLUDED.archived, document = EXCLUDED.document, updated_at = now()
  ),
  snapshot AS (
    INSERT INTO node_snapshots (node_id, version, recorded_at, document)
    SELECT $1, $9, now(), $11 WHERE $12::boolean AND EXISTS (SELECT 1 FROM appended)
    ON CONFLICT DO NOTHING
  )
  SELECT global_position FROM appended`;

/** A node's document is also kept as a snapshot whenever its version passes a multiple of this. */
export const SNAPSHOT_EVERY = 100;

/**
 * Appends events to a stream that must be at `expectedVersion`. The unique (stream, version)
 * key makes concurrent appends at the same version fail for all but one writer. With `document`,
 * the node read model is saved in the same statement: one round trip, atomic without a transaction.
 */
export async function appendToStream(
  sql: Sql,
  streamId: string,
  nodeId: string,
  expectedVersion: number,
  events: NewEvent[],
  document?: NodeDocument,
): Promise<{ nextVersion: number; positions: string[] }> {
  const params: unknown[] = [
    streamId,
    expectedVersion,
    nodeId,
    events.map((e) => e.eventId),
    events.map((e) => e.type),
    events.map((e) => JSON.stringify(e.data)),
    events.map((e) => (e.secretData ? JSON.stringify(e.secretData) : null)),
    events.map((e) => JSON.stringify(e.metadata)),
  ];
  if (document) {
    const snapshot =
      Math.floor(document.version / SNAPSHOT_EVERY) > Math.floor(expectedVersion / SNAPSHOT_EVERY);
    params.push(document.version, document.archived, JSON.stringify(document), snapshot);
  }
  try {
    // Prepared: Postgres plans these CTEs once per connection instead of at every write.
    const rows = await sql.query<{ global_position: string }>(
      document ? INSERT_EVENTS_AND_DOCUMENT : INSERT_EVENTS,
      params,
      document ? 'plexus_append_events_and_document' : 'plexus_append_events',
    );
    if (rows.length !== events.length) throw new StreamVersionConflict(streamId, expectedVersion);
    return {
      nextVersion: expectedVersion + events.length,
      positions: rows.map((r) => String(r.global_position)),
    };
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505' && e.constraint === 'events_stream_version_unique')
      throw new StreamVersionConflict(streamId, expectedVersion);
    throw err;
  }
}

/** The version a stream is at: the number of events in it. */
export async function readStreamVersion(sql: Sql, streamId: string): Promise<number> {
  const [row] = await sql.query<{ v: number | null }>(
    'SELECT max(stream_version) AS v FROM events WHERE stream_id = $1',
    [streamId],
  );
  return row?.v ?? 0;
}
