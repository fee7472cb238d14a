import { JobType } from '../job-types';

interface AnalyzeParams {
  tablesPerChunk: number;
  [key: string]: number;
}

/** Refreshes the planner statistics of every table in the database's public schema, a few tables per chunk. */
export const analyzeTablesJobType: JobType<AnalyzeParams> = {
  name: 'analyze-tables',
  description:
    'Runs ANALYZE on every ordinary table of the public schema of the module database, ' +
    '`tablesPerChunk` tables per chunk (the list is taken when the job is submitted).',
  params: {
    tablesPerChunk: {
      type: 'integer',
      description: 'tables per chunk',
      default: 5,
      minimum: 1,
      maximum: 1000,
    },
  },
  async plan({ tablesPerChunk }, ctx) {
    const { rows } = await ctx.client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname`,
    );
    const chunks: string[][] = [];
    for (let i = 0; i < rows.length; i += tablesPerChunk)
      chunks.push(rows.slice(i, i + tablesPerChunk).map((r) => r.name));
    return chunks;
  },
  async runChunk(chunk, _params, ctx) {
    for (const table of chunk as string[]) {
      // A table dropped since the job was planned is skipped, not an error.
      const { rows } = await ctx.client.query<{ ok: boolean }>(
        `SELECT to_regclass(quote_ident($1)) IS NOT NULL AS ok`,
        [table],
      );
      if (rows[0].ok) await ctx.client.query(`ANALYZE "${table.replace(/"/g, '""')}"`);
    }
  },
};
