import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Process rows that left or were lost longer ago than PROCESS_RETENTION_MS move to
 * processes_archive (ProcessArchiver), so `processes` holds the live processes and the recent
 * past only, however many come and go. The failure detector reads up and lost rows through
 * processes_watched, which holds no left row either.
 */
export class ProcessArchive1764650000000 implements MigrationInterface {
  name = 'ProcessArchive1764650000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE processes_archive (
        process_id TEXT PRIMARY KEY,
        node_id TEXT NOT NULL,
        status TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        port_offset INTEGER NOT NULL,
        joined_at TIMESTAMPTZ NOT NULL,
        left_at TIMESTAMPTZ,
        last_seen_at TIMESTAMPTZ NOT NULL,
        archived_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX processes_archive_node ON processes_archive (node_id, joined_at)`);
    await q.query(
      `CREATE INDEX processes_watched ON processes (node_id, joined_at) WHERE status IN ('up', 'lost')`,
    );
    await q.query(
      `CREATE INDEX processes_gone ON processes (last_seen_at) WHERE status IN ('left', 'lost')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX processes_gone`);
    await q.query(`DROP INDEX processes_watched`);
    await q.query(`DROP TABLE processes_archive`);
  }
}
