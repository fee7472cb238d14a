import { NodeDocument } from '@plexus/domain';
import { Sql } from './database';

/**
 * The node read model: the latest document of every node, updated in the append's transaction.
 * (To read it locked, use lockNodeDocument: node-locks.ts owns the order rows are locked in.)
 */
export async function readNodeDocument(sql: Sql, nodeId: string): Promise<NodeDocument | null> {
  const [row] = await sql.query<{ document: NodeDocument }>(
    'SELECT document FROM node_documents WHERE node_id = $1',
    [nodeId],
  );
  return row?.document ?? null;
}

export async function readNodeDocuments(sql: Sql, nodeIds: string[]): Promise<NodeDocument[]> {
  if (!nodeIds.length) return [];
  const rows = await sql.query<{ document: NodeDocument }>(
    'SELECT document FROM node_documents WHERE node_id = ANY($1::text[])',
    [nodeIds],
    'plexus_read_node_documents',
  );
  return rows.map((r) => r.document);
}

export interface NodeSummaryRow {
  nodeId: string;
  version: number;
  moduleCount: number;
  liveProcessCount: number;
  updatedAt: string;
}

export async function listNodeSummaries(sql: Sql): Promise<NodeSummaryRow[]> {
  const rows = await sql.query<{
    node_id: string;
    version: number;
    modules: number;
    live: string;
    updated_at: Date;
  }>(
    `SELECT d.node_id, d.version, jsonb_array_length(d.document->'modules') AS modules, d.updated_at,
            (SELECT count(*) FROM processes p WHERE p.node_id = d.node_id AND p.status = 'up') AS live
     FROM node_documents d WHERE NOT d.archived ORDER BY d.node_id`,
  );
  return rows.map((r) => ({
    nodeId: r.node_id,
    version: r.version,
    moduleCount: r.modules,
    liveProcessCount: Number(r.live),
    updatedAt: r.updated_at.toISOString(),
  }));
}

/**
 * Every node's current document (archived ones too), a page at a time in node ID order, after
 * `afterNodeId` (null: from the first). What a republish to NATS reads.
 */
export async function readNodeDocumentsPage(
  sql: Sql,
  afterNodeId: string | null,
  limit: number,
): Promise<NodeDocument[]> {
  const rows = await sql.query<{ document: NodeDocument }>(
    `SELECT document FROM node_documents WHERE $1::text IS NULL OR node_id > $1
     ORDER BY node_id LIMIT $2`,
    [afterNodeId, limit],
  );
  return rows.map((r) => r.document);
}

/** How many node documents there are (archived ones too), and how many changed before `ageMs` ago. */
export async function countNodeDocuments(
  sql: Sql,
  olderThanMs: number,
): Promise<{ total: number; older: number }> {
  const [row] = await sql.query<{ total: number; older: number }>(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE updated_at < now() - $1 * interval '1 millisecond')::int AS older
     FROM node_documents`,
    [olderThanMs],
  );
  return row;
}
