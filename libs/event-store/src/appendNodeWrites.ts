import { NodeDocument } from '@plexus/domain';
import { isVersionClash, StreamVersionConflict } from './appendToStream';
import { Sql } from './database';
import { compareNodeIds, NODE_ROW_LOCK_ORDER } from './node-locks';
import { NewEvent } from './stored-event';

/** A node's document is also kept as a snapshot whenever its version passes a multiple of this. */
export const SNAPSHOT_EVERY = 100;

/** One node's write: its new events, appended only if the node is still at `expectedVersion`. */
export interface NodeWrite {
  nodeId: string;
  expectedVersion: number;
  events: NewEvent[];
  /** The node document after the events: saved as the read model in the same statement. */
  document: NodeDocument;
  /** `document` as JSON when the caller has it already (the bus size check made it). */
  documentJson?: string;
}

/**
 * Several nodes' writes in one statement (so one commit). It locks the rows of the nodes it
 * touches in NODE_ROW_LOCK_ORDER (node-locks.ts), the order every other writer locks them in, so
 * two such writers wait for each other rather than deadlock; and it appends events and
 * saves documents only for nodes still at their expected version; the others are left alone.
 */
const APPEND_NODE_WRITES = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::boolean[], $5::jsonb[], $6::boolean[])
      AS i(node_id, expected, next_version, archived, document, snapshot)),
  current_doc AS (
    SELECT node_id, version FROM node_documents WHERE node_id = ANY($1::text[])
    ORDER BY ${NODE_ROW_LOCK_ORDER} FOR UPDATE),
  accepted AS (
    SELECT i.* FROM input i LEFT JOIN current_doc c USING (node_id)
    WHERE coalesce(c.version, 0) = i.expected),
  appended AS (
    INSERT INTO events (event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata)
    SELECT e.id, e.node_id, a.expected + e.n, e.node_id, e.type, e.payload, e.secret_payload, e.metadata
    FROM unnest($7::uuid[], $8::text[], $9::int[], $10::text[], $11::jsonb[], $12::jsonb[], $13::jsonb[])
         WITH ORDINALITY AS e(id, node_id, n, type, payload, secret_payload, metadata, ord)
    JOIN accepted a USING (node_id)
    ORDER BY e.ord),
  projected AS (
    INSERT INTO node_documents (node_id, version, archived, document, updated_at)
    SELECT node_id, next_version, archived, document, now() FROM accepted
    ON CONFLICT (node_id) DO UPDATE
      SET version = EXCLUDED.version, archived = EXCLUDED.archived, document = EXCLUDED.document, updated_at = now()),
  snapshot AS (
    INSERT INTO node_snapshots (node_id, version, recorded_at, document)
    SELECT node_id, next_version, now(), document FROM accepted WHERE snapshot
    ON CONFLICT DO NOTHING)
  SELECT node_id FROM accepted`;

/**
 * Appends the writes of several distinct nodes in one statement and returns the IDs of the nodes
 * whose write was applied; a node that moved on since its writer read it is not in the answer and
 * stores nothing. Two writers creating the same new node at once (no row to lock yet) make the
 * whole statement fail on the unique (stream, version) key: callers retry those writes one by one.
 */
export async function appendNodeWrites(sql: Sql, writes: NodeWrite[]): Promise<Set<string>> {
  if (new Set(writes.map((w) => w.nodeId)).size !== writes.length)
    throw new Error('appendNodeWrites: one write per node per statement');
  // Events in node order, like the row locks, so that concurrent statements wait rather than deadlock.
  const ordered = [...writes].sort((a, b) => compareNodeIds(a.nodeId, b.nodeId));
  const events = ordered.flatMap((w) => w.events.map((e, i) => ({ w, e, n: i + 1 })));
  const rows = await sql.query<{ node_id: string }>(
    APPEND_NODE_WRITES,
    [
      ordered.map((w) => w.nodeId),
      ordered.map((w) => w.expectedVersion),
      ordered.map((w) => w.document.version),
      ordered.map((w) => w.document.archived),
      ordered.map((w) => w.documentJson ?? JSON.stringify(w.document)),
      ordered.map(
        (w) =>
          Math.floor(w.document.version / SNAPSHOT_EVERY) >
          Math.floor(w.expectedVersion / SNAPSHOT_EVERY),
      ),
      events.map(({ e }) => e.eventId),
      events.map(({ w }) => w.nodeId),
      events.map(({ n }) => n),
      events.map(({ e }) => e.type),
      events.map(({ e }) => e.dataJson ?? JSON.stringify(e.data)),
      events.map(({ e }) => (e.secretData ? JSON.stringify(e.secretData) : null)),
      events.map(({ e }) => JSON.stringify(e.metadata)),
    ],
    'plexus_append_node_writes',
  );
  return new Set(rows.map((r) => r.node_id));
}

/**
 * One node's write. StreamVersionConflict when the node is no longer at `expectedVersion`, or
 * another writer created it meanwhile.
 */
export async function appendNodeWrite(sql: Sql, write: NodeWrite): Promise<void> {
  let applied: Set<string>;
  try {
    applied = await appendNodeWrites(sql, [write]);
  } catch (err) {
    if (isVersionClash(err)) throw new StreamVersionConflict(write.nodeId, write.expectedVersion);
    throw err;
  }
  if (!applied.has(write.nodeId))
    throw new StreamVersionConflict(write.nodeId, write.expectedVersion);
}
