import { ProcessStatus } from '@plexus/domain';
import { Sql } from './database';

/** How many processes each node has in each status (for /metrics). */
export async function countProcesses(
  sql: Sql,
): Promise<{ nodeId: string; status: ProcessStatus; count: number }[]> {
  const rows = await sql.query<{ node_id: string; status: ProcessStatus; count: number }>(
    'SELECT node_id, status, count(*)::int AS count FROM processes GROUP BY node_id, status',
  );
  return rows.map((r) => ({ nodeId: r.node_id, status: r.status, count: r.count }));
}
