import { NodeDocument } from '@plexus/domain';
import { Sql } from './database';

/**
 * The one order in which writers lock node rows: byte order of the node ID. Two writers that
 * lock overlapping sets of rows in the same order wait for each other; in different orders they
 * can deadlock. The database's default collation is no good for this (under en_US or ICU,
 * `a_b` sorts before `B`; in bytes after it), so the SQL side names the "C" collation, and the
 * JS side compares UTF-16 code units, which for node IDs (US-ASCII, libs/domain ids.ts) is byte
 * order too.
 *
 * Lock order across tables: node rows first, then the persistence guard's advisory lock.
 */
export const NODE_ROW_LOCK_ORDER = 'node_id COLLATE "C"';

/** Sorts node IDs (or things with one) in NODE_ROW_LOCK_ORDER. */
export const compareNodeIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface LockedNodeRow {
  version: number;
  /** Only when asked for with `documents: true`. */
  document?: NodeDocument;
}

/**
 * Inside a transaction: locks the rows of the named nodes that exist (`SELECT … FOR UPDATE`, in
 * NODE_ROW_LOCK_ORDER) until it ends, and returns them by node ID. A node without a row (not
 * created yet) is not in the answer.
 */
export async function lockNodeRows(
  sql: Sql,
  nodeIds: string[],
  options: { documents?: boolean } = {},
): Promise<Map<string, LockedNodeRow>> {
  if (!nodeIds.length) return new Map();
  const rows = await sql.query<{ node_id: string; version: number; document?: NodeDocument }>(
    `SELECT node_id, version${options.documents ? ', document' : ''} FROM node_documents
     WHERE node_id = ANY($1::text[]) ORDER BY ${NODE_ROW_LOCK_ORDER} FOR UPDATE`,
    [nodeIds],
  );
  return new Map(
    rows.map((r) => [
      r.node_id,
      { version: Number(r.version), ...(r.document ? { document: r.document } : {}) },
    ]),
  );
}

/** Inside a transaction: locks one node's row and returns its document (null: no such node). */
export async function lockNodeDocument(sql: Sql, nodeId: string): Promise<NodeDocument | null> {
  return (await lockNodeRows(sql, [nodeId], { documents: true })).get(nodeId)?.document ?? null;
}
