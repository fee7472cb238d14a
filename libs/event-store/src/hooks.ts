import { randomUUID } from 'node:crypto';
import { Sql } from './database';

/** A webhook as it may be shown: its secret never leaves the database in an answer. */
export interface Hook {
  id: string;
  url: string;
  events: string[];
  createdBy: string;
  createdAt: string;
  deletedAt: string | null;
}

const toHook = (r: any): Hook => ({
  id: r.id,
  url: r.url,
  events: r.events,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  deletedAt: r.deleted_at ? r.deleted_at.toISOString() : null,
});

const COLUMNS = 'id, url, events, created_by, created_at, deleted_at';

/**
 * Stores a hook. Its row records the creating transaction (start_transaction_id's default), so
 * it receives the events of later transactions only. The secret comes encrypted (callers use the
 * secrets cipher; the deliverer decrypts it to sign) and is never read back by anything else.
 */
export async function createHook(
  sql: Sql,
  hook: { url: string; events: string[]; secret: string; createdBy: string },
): Promise<Hook> {
  const [row] = await sql.query(
    `INSERT INTO hooks (id, url, events, secret, created_by) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${COLUMNS}`,
    [randomUUID(), hook.url, hook.events, hook.secret, hook.createdBy],
  );
  return toHook(row);
}

export async function listHooks(sql: Sql): Promise<Hook[]> {
  const rows = await sql.query(
    `SELECT ${COLUMNS} FROM hooks WHERE deleted_at IS NULL ORDER BY created_at, id`,
  );
  return rows.map(toHook);
}

/** A live hook, or null when there is none with that ID (never created, or deleted). */
export async function readHook(sql: Sql, id: string): Promise<Hook | null> {
  const [row] = await sql.query(
    `SELECT ${COLUMNS} FROM hooks WHERE id = $1 AND deleted_at IS NULL`,
    [id],
  );
  return row ? toHook(row) : null;
}

/**
 * Deletes a hook and cancels its pending deliveries in one statement, so nothing more is sent.
 * The rows stay, as a record of what was delivered. Returns null when there is no live hook.
 */
export async function deleteHook(sql: Sql, id: string): Promise<Hook | null> {
  const [row] = await sql.query(
    `WITH deleted AS (
       UPDATE hooks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}),
     cancelled AS (
       UPDATE hook_deliveries SET status = 'cancelled', next_attempt_at = NULL, updated_at = now()
       WHERE hook_id IN (SELECT id FROM deleted) AND status = 'pending')
     SELECT * FROM deleted`,
    [id],
  );
  return row ? toHook(row) : null;
}
