/** What the leader last saw of the NATS streams that hold copies of Postgres' state. */
export interface TopologySnapshot {
  /** The events stream; null when the server does not have it. */
  events: { created: string; lastSeq: number } | null;
  /** The node-document bucket's stream; null when the server does not have it. */
  nodes: { created: string; keys: number } | null;
}

/**
 * Whether NATS lost (part of) its store, and why: a stream or bucket is missing, was re-created
 * since the last look (another creation time: a wiped server re-created by anyone), or the events
 * stream's sequence went backwards. On a first look (no `previous`: a new leadership term) it
 * compares the bucket's keys with the documents Postgres has held for a while
 * (`settledDocuments`), which catches a bucket re-created empty before this leader looked.
 * Null when all is well.
 */
export function lostStoreReason(
  previous: TopologySnapshot | null,
  current: TopologySnapshot,
  settledDocuments?: number,
): string | null {
  if (!current.events) return 'the events stream is missing';
  if (!current.nodes) return 'the node-document bucket is missing';
  if (previous?.events && previous.events.created !== current.events.created)
    return 'the events stream was re-created';
  if (previous?.events && current.events.lastSeq < previous.events.lastSeq)
    return `the events stream's sequence went backwards (from ${previous.events.lastSeq} to ${current.events.lastSeq})`;
  if (previous?.nodes && previous.nodes.created !== current.nodes.created)
    return 'the node-document bucket was re-created';
  if (!previous && settledDocuments !== undefined && current.nodes.keys < settledDocuments)
    return `the node-document bucket holds ${current.nodes.keys} nodes, Postgres ${settledDocuments}`;
  return null;
}
