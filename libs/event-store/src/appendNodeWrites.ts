import { NodeDocument } from '@plexus/domain';
import { isVersionClash, StreamVersionConflict } from './appendToStream';
import { Sql } from './database';
import { compareNodeIds, lockNodeRowsStatement } from './node-locks';
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

/** What became of one node's write. */
export type NodeWriteOutcome =
  | { kind: 'committed' }
  /** The node had moved on: it is at `currentVersion`, not at the write's expected version. */
  | { kind: 'stale'; currentVersion: number }
  /** Another writer created the node meanwhile (the unique key said so; no version to name). */
  | { kind: 'conflict' };

/** What became of the writes of one statement: those not committed stored nothing. */
export interface NodeWritesOutcome {
  committed: Set<string>;
  /** The nodes that had moved on, each with the version it is at. */
  stale: Map<string, number>;
}

/**
 * Several nodes' writes in one statement (so one commit). It locks the rows of the nodes it
 * touches (lockNodeRowsStatement, in the order every other writer locks them in, so two such
 * writers wait for each other rather than deadlock); it appends events and saves documents only
 * for nodes still at their expected version, and answers the others with the version they are
 * at (read under the lock, so a 412 names it without another query).
 */
const APPEND_NODE_WRITES = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::boolean[], $5::jsonb[], $6::boolean[])
      AS i(node_id, expected, next_version, archived, document, snapshot)),
  current_doc AS (${lockNodeRowsStatement('node_id, version', { ids: '$1' })}),
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
  SELECT i.node_id, coalesce(c.version, 0) AS version
  FROM input i LEFT JOIN current_doc c USING (node_id)
  WHERE coalesce(c.version, 0) <> i.expected`;

/**
 * Appends the writes of several distinct nodes in one statement; a node that moved on since its
 * writer read it stores nothing and is answered in `stale`. Two writers creating the same new
 * node at once (no row to lock yet) make the whole statement fail on the unique (stream,
 * version) key: callers retry those writes one by one.
 */
export async function appendNodeWrites(sql: Sql, writes: NodeWrite[]): Promise<NodeWritesOutcome> {
  if (new Set(writes.map((w) => w.nodeId)).size !== writes.length)
    throw new Error('appendNodeWrites: one write per node per statement');
  // Events in node order, like the row locks, so that concurrent statements wait rather than deadlock.
  const ordered = [...writes].sort((a, b) => compareNodeIds(a.nodeId, b.nodeId));
  const events = ordered.flatMap((w) => w.events.map((e, i) => ({ w, e, n: i + 1 })));
  const rows = await sql.query<{ node_id: string; version: number }>(
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
  const stale = new Map(rows.map((r) => [r.node_id, Number(r.version)]));
  const committed = new Set(writes.map((w) => w.nodeId).filter((id) => !stale.has(id)));
  return { committed, stale };
}

const COMMITTED: NodeWriteOutcome = { kind: 'committed' };
const CONFLICT: NodeWriteOutcome = { kind: 'conflict' };

/** One node's write, answered as an outcome: only unexpected errors are thrown. */
export async function tryAppendNodeWrite(sql: Sql, write: NodeWrite): Promise<NodeWriteOutcome> {
  let outcome: NodeWritesOutcome;
  try {
    outcome = await appendNodeWrites(sql, [write]);
  } catch (err) {
    if (isVersionClash(err)) return CONFLICT;
    throw err;
  }
  return outcomeOf(outcome, write.nodeId);
}

/** One node's part of a statement's outcome. */
export function outcomeOf(outcome: NodeWritesOutcome, nodeId: string): NodeWriteOutcome {
  const currentVersion = outcome.stale.get(nodeId);
  return currentVersion === undefined ? COMMITTED : { kind: 'stale', currentVersion };
}

/**
 * One node's write. StreamVersionConflict when the node is no longer at `expectedVersion`, or
 * another writer created it meanwhile.
 */
export async function appendNodeWrite(sql: Sql, write: NodeWrite): Promise<void> {
  const outcome = await tryAppendNodeWrite(sql, write);
  if (outcome.kind !== 'committed')
    throw new StreamVersionConflict(write.nodeId, write.expectedVersion);
}
