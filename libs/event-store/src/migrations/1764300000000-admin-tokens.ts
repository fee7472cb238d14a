import { MigrationInterface, QueryRunner } from 'typeorm';

/** Named admin API tokens with a role. Only a SHA-256 of each token is kept. */
export class AdminTokens1764300000000 implements MigrationInterface {
  name = 'AdminTokens1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE admin_tokens (
        id UUID PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
        token_sha256 TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        revoked_at TIMESTAMPTZ
      )`);
    // A name identifies the actor in every event it causes: unique among live tokens.
    await q.query(
      `CREATE UNIQUE INDEX admin_tokens_live_name ON admin_tokens (name) WHERE revoked_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE admin_tokens`);
  }
}
