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
