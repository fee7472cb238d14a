import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** Every node (and process) stream of a database; none when it was never migrated or is gone. */
export async function nodeIdsOf(databaseUrl: string): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const { rows } = await client.query<{ node_id: string }>('SELECT DISTINCT node_id FROM events');
    return rows.map((r) => r.node_id);
  } catch {
    return [];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Tests drop their databases while other test files still run, on node IDs that may repeat
 * between files, so their leftovers are purged once, after the run: a test database's drop()
 * writes its node IDs to this file (named by the run's global setup), the global teardown reads it.
 */
const LEFTOVERS_FILE_VARIABLE = 'PLEXUS_TEST_LEFTOVER_NODES_FILE';

/** Idempotent: each tier of a run has its global setup, and one file serves them all. */
export function startRecordingLeftovers(): void {
  if (process.env[LEFTOVERS_FILE_VARIABLE]) return;
  const file = join(tmpdir(), `plexus-test-leftover-nodes-${process.pid}.txt`);
  writeFileSync(file, '');
  process.env[LEFTOVERS_FILE_VARIABLE] = file;
}

/** Records a database's nodes for the teardown, when this run records them. */
export async function recordLeftovers(databaseUrl: string): Promise<void> {
  const file = process.env[LEFTOVERS_FILE_VARIABLE];
  if (!file) return;
  const ids = await nodeIdsOf(databaseUrl);
  if (ids.length) appendFileSync(file, ids.map((id) => `${JSON.stringify(id)}\n`).join(''));
}

/** The node IDs recorded in this run, once each; the record is removed. */
export function takeRecordedLeftovers(): string[] {
  const file = process.env[LEFTOVERS_FILE_VARIABLE];
  if (!file || !existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  rmSync(file, { force: true });
  return [...new Set(lines.map((line) => JSON.parse(line) as string))];
}
