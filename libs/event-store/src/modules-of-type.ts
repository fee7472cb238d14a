import { StringMap } from '@plexus/domain';
import { Sql } from './database';

export interface ModuleOfTypeRow {
  nodeId: string;
  moduleId: string;
  enabled: boolean;
  /** In clear (secrets included): for checks, never for answers. */
  config: StringMap;
}

/** Every module of one type on the nodes that are not archived, from the node read model. */
export async function listModulesOfType(sql: Sql, type: string): Promise<ModuleOfTypeRow[]> {
  const rows = await sql.query<{
    node_id: string;
    module_id: string;
    enabled: boolean | null;
    config: StringMap | null;
  }>(
    `SELECT d.node_id, m->>'moduleId' AS module_id, (m->>'enabled')::boolean AS enabled, m->'config' AS config
     FROM node_documents d CROSS JOIN LATERAL jsonb_array_elements(d.document->'modules') m
     WHERE NOT d.archived AND m->>'type' = $1
     ORDER BY d.node_id, m->>'moduleId'`,
    [type],
  );
  return rows.map((r) => ({
    nodeId: r.node_id,
    moduleId: r.module_id,
    enabled: r.enabled !== false,
    config: r.config ?? {},
  }));
}
