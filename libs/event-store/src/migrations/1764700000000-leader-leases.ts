import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Leadership leases (libs/event-store/src/leader-lease.ts): one row per kind of leader ("relay").
 * Only the database clock (`now()`) sets and compares `expires_at`, so replicas' clocks do not
 * matter. `term` grows on every takeover; statements that only the leader may run name the term
 * they were started under and are refused once it is no longer the current, unexpired one.
 */
export class LeaderLeases1764700000000 implements MigrationInterface {
  name = 'LeaderLeases1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE leader_leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        term BIGINT NOT NULL CHECK (term > 0),
        expires_at TIMESTAMPTZ NOT NULL,
        acquired_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        renewed_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE leader_leases`);
  }
}
