import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Sql } from './database';

export type AdminRole = 'admin' | 'operator' | 'auditor';
export const ADMIN_ROLES: readonly AdminRole[] = ['admin', 'operator', 'auditor'];

export interface AdminToken {
  id: string;
  name: string;
  role: AdminRole;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
}

/** Tokens are 256 random bits, so a plain SHA-256 is enough to keep them unusable at rest. */
export const tokenDigest = (token: string) => createHash('sha256').update(token).digest('hex');

const toToken = (r: any): AdminToken => ({
  id: r.id,
  name: r.name,
  role: r.role,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at ? r.revoked_at.toISOString() : null,
});

export class TokenNameTaken extends Error {}

/** Creates a token; its clear text is returned once and never stored. */
export async function createAdminToken(
  sql: Sql,
  name: string,
  role: AdminRole,
  createdBy: string,
): Promise<AdminToken & { token: string }> {
  const token = `plx_${randomBytes(32).toString('base64url')}`;
  try {
    const [row] = await sql.query(
      `INSERT INTO admin_tokens (id, name, role, token_sha256, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
      [randomUUID(), name, role, tokenDigest(token), createdBy],
    );
    return { ...toToken(row), token };
  } catch (err) {
    if ((err as { code?: string }).code === '23505')
      throw new TokenNameTaken(`a live token named "${name}" exists`);
    throw err;
  }
}

export async function findLiveTokenByDigest(sql: Sql, digest: string): Promise<AdminToken | null> {
  const [row] = await sql.query(
    'SELECT * FROM admin_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL',
    [digest],
  );
  return row ? toToken(row) : null;
}

export async function listAdminTokens(sql: Sql): Promise<AdminToken[]> {
  return (await sql.query('SELECT * FROM admin_tokens ORDER BY created_at')).map(toToken);
}

/** Returns the revoked token, or null when there is no live token with that ID. */
export async function revokeAdminToken(sql: Sql, id: string): Promise<AdminToken | null> {
  const [row] = await sql.query(
    'UPDATE admin_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING *',
    [id],
  );
  return row ? toToken(row) : null;
}
