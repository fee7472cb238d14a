import {
  mapDocumentSecrets,
  mapEventSecrets,
  ModuleTypeCatalog,
  NodeDocument,
  NodeEvent,
} from '@plexus/domain';
import { SecretsCipher } from '@plexus/secrets-crypto';
import { Database, Sql } from './database';
import { lockNodeRowsStatement } from './node-locks';

export interface ReencryptCounts {
  /** Rows that hold secret values. */
  scanned: number;
  /** Rows rewritten: a value was under another key (or stored before encryption). */
  reencrypted: number;
}

export interface StoredSecretsCounts {
  nodeDocuments: ReencryptCounts;
  nodeSnapshots: ReencryptCounts;
  events: ReencryptCounts;
  hooks: ReencryptCounts;
}

/** `reencrypt` that also says whether it changed anything. */
function tracking(cipher: SecretsCipher) {
  const state = {
    changed: false,
    fn: (value: string) => {
      const next = cipher.reencrypt(value);
      if (next !== value) state.changed = true;
      return next;
    },
  };
  return state;
}

/**
 * Runs `batch` in one transaction per call, each from where the last one ended, until one says
 * it was the last. A deadlock with a concurrent writer only repeats that batch.
 */
async function inBatches<K>(
  db: Database,
  batch: (sql: Sql, after: K | null) => Promise<{ last: K | null } & ReencryptCounts>,
): Promise<ReencryptCounts> {
  const total = { scanned: 0, reencrypted: 0 };
  for (let after: K | null = null; ;) {
    let done;
    try {
      done = await db.transaction((sql) => batch(sql, after));
    } catch (err) {
      if ((err as { code?: string }).code === '40P01') continue;
      throw err;
    }
    total.scanned += done.scanned;
    total.reencrypted += done.reencrypted;
    if (done.last === null) return total;
    after = done.last;
  }
}

/** Documents re-encrypted; `scanned` counts those that hold secrets. */
function reencryptDocuments<R extends { document: NodeDocument }>(
  rows: R[],
  catalog: ModuleTypeCatalog,
  cipher: SecretsCipher,
) {
  let scanned = 0;
  const changed: (R & { sealed: NodeDocument })[] = [];
  for (const row of rows) {
    const t = tracking(cipher);
    const sealed = mapDocumentSecrets(row.document, catalog, t.fn);
    if (sealed !== row.document) scanned++;
    if (t.changed) changed.push({ ...row, sealed });
  }
  return { scanned, changed };
}

export async function reencryptStoredSecrets(
  db: Database,
  catalog: ModuleTypeCatalog,
  cipher: SecretsCipher,
  batchSize = 500,
): Promise<StoredSecretsCounts> {
  // The read model: rows locked in the order writers lock them, so a write waits, then wins.
  const nodeDocuments = await inBatches<string>(db, async (sql, after) => {
    const rows = await sql.query<{ node_id: string; document: NodeDocument }>(
      lockNodeRowsStatement('node_id, document', { after: '$1', limit: '$2' }),
      [after, batchSize],
    );
    const { scanned, changed } = reencryptDocuments(rows, catalog, cipher);
    if (changed.length)
      await sql.query(
        `UPDATE node_documents d SET document = c.document
         FROM unnest($1::text[], $2::jsonb[]) AS c(node_id, document) WHERE d.node_id = c.node_id`,
        [changed.map((c) => c.node_id), changed.map((c) => JSON.stringify(c.sealed))],
      );
    const last = rows.length < batchSize ? null : rows[rows.length - 1].node_id;
    return { last, scanned, reencrypted: changed.length };
  });

  // Snapshots are written once and never changed but for this.
  const nodeSnapshots = await inBatches<[string, number]>(db, async (sql, after) => {
    const rows = await sql.query<{ node_id: string; version: number; document: NodeDocument }>(
      `SELECT node_id, version, document FROM node_snapshots
       WHERE $1::text IS NULL OR (node_id COLLATE "C", version) > ($1::text COLLATE "C", $2::int)
       ORDER BY node_id COLLATE "C", version LIMIT $3`,
      [after?.[0] ?? null, after?.[1] ?? 0, batchSize],
    );
    const { scanned, changed } = reencryptDocuments(rows, catalog, cipher);
    if (changed.length)
      await sql.query(
        `UPDATE node_snapshots s SET document = c.document
         FROM unnest($1::text[], $2::int[], $3::jsonb[]) AS c(node_id, version, document)
         WHERE s.node_id = c.node_id AND s.version = c.version`,
        [
          changed.map((c) => c.node_id),
          changed.map((c) => c.version),
          changed.map((c) => JSON.stringify(c.sealed)),
        ],
      );
    const end = rows[rows.length - 1];
    const last: [string, number] | null =
      rows.length < batchSize ? null : [end.node_id, end.version];
    return { last, scanned, reencrypted: changed.length };
  });

  // Events never change but for this: their secret payload, by position.
  const events = await inBatches<string>(db, async (sql, after) => {
    const rows = await sql.query<{ position: string; type: string; secret_payload: any }>(
      `SELECT global_position AS position, type, secret_payload FROM events
       WHERE secret_payload IS NOT NULL AND global_position > $1::bigint
       ORDER BY global_position LIMIT $2`,
      [after ?? '0', batchSize],
    );
    const changed: { position: string; data: unknown }[] = [];
    for (const row of rows) {
      const t = tracking(cipher);
      const event = { type: row.type, data: row.secret_payload } as NodeEvent;
      const sealed = mapEventSecrets(event, catalog, t.fn);
      if (t.changed) changed.push({ position: row.position, data: sealed.data });
    }
    if (changed.length)
      await sql.query(
        `UPDATE events e SET secret_payload = c.data
         FROM unnest($1::bigint[], $2::jsonb[]) AS c(position, data) WHERE e.global_position = c.position`,
        [changed.map((c) => c.position), changed.map((c) => JSON.stringify(c.data))],
      );
    const last = rows.length < batchSize ? null : String(rows[rows.length - 1].position);
    return { last, scanned: rows.length, reencrypted: changed.length };
  });

  const hooks = await inBatches<string>(db, async (sql, after) => {
    const rows = await sql.query<{ id: string; secret: string }>(
      `SELECT id::text, secret FROM hooks WHERE $1::text IS NULL OR id::text > $1::text
       ORDER BY id::text LIMIT $2 FOR UPDATE`,
      [after, batchSize],
    );
    const changed = rows
      .map((r) => ({ id: r.id, secret: cipher.reencrypt(r.secret), old: r.secret }))
      .filter((r) => r.secret !== r.old);
    if (changed.length)
      await sql.query(
        `UPDATE hooks h SET secret = c.secret FROM unnest($1::uuid[], $2::text[]) AS c(id, secret)
         WHERE h.id = c.id`,
        [changed.map((c) => c.id), changed.map((c) => c.secret)],
      );
    const last = rows.length < batchSize ? null : rows[rows.length - 1].id;
    return { last, scanned: rows.length, reencrypted: changed.length };
  });

  return { nodeDocuments, nodeSnapshots, events, hooks };
}
