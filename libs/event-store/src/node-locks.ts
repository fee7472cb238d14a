import { NodeDocument } from '@plexus/domain';
import { Sql } from './database';

/**
 * The one order in which writers lock node rows: byte order of the node ID. Two writers that
 * lock overlapping sets of rows in the same order wait for each other; in different orders they
 * can deadlock. The database's default collation is no good for this (under en_US or ICU,
 * `a_b` sorts before `B`; in bytes after it), so the SQL side names the "C" collation, and the
 * JS side (compareNodeIds) compares UTF-16 code units, which for node IDs (US-ASCII, libs/domain
 * ids.ts) is byte order too.
 *
 * Lock order across tables: node rows first, then the persistence guard's advisory lock.
 */
const NODE_ID_IN_BYTES = 'node_id COLLATE "C"';

/** Sorts node IDs (or things with one) in the order node rows are locked in. */
export const compareNodeIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Which node rows a statement locks: the IDs in a text[] parameter, or the page after one. */
export type LockedRows = { ids: string } | { after: string; limit: string };

/**
 * The only statement that locks several node rows (`SELECT … FOR UPDATE` in byte order of the
 * node ID); every path that does goes through it, alone or as a CTE of a larger statement.
 * `rows.after` pages through the table in that same order (null: from the start).
 */
export function lockNodeRowsStatement(columns: string, rows: LockedRows): string {
  const where =
    'ids' in rows
      ? `node_id = ANY(${rows.ids}::text[])`
      : `${rows.after}::text IS NULL OR ${NODE_ID_IN_BYTES} > ${rows.after}::text`;
  const limit = 'limit' in rows ? ` LIMIT ${rows.limit}` : '';
  return `SELECT ${columns} FROM node_documents WHERE ${where} ORDER BY ${NODE_ID_IN_BYTES}${limit} FOR UPDATE`;
}

export interface LockedNodeRow {
  version: number;
  /** Only when asked for with `documents: true`. */
  document?: NodeDocument;
}

/**
 * Inside a transaction: locks the rows of the named nodes that exist until it ends, and returns
 * them by node ID. A node without a row (not created yet) is not in the answer.
 */
export async function lockNodeRows(
  sql: Sql,
  nodeIds: string[],
  options: { documents?: boolean } = {},
): Promise<Map<string, LockedNodeRow>> {
  if (!nodeIds.length) return new Map();
  const rows = await sql.query<{ node_id: string; version: number; document?: NodeDocument }>(
    lockNodeRowsStatement(`node_id, version${options.documents ? ', document' : ''}`, {
      ids: '$1',
    }),
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
