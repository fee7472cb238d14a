import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Snapshots of node documents every 100 versions, so that rebuilding a node as it was at some
 * version or moment replays at most 100 events instead of its whole stream. A snapshot is a cache
 * of the immutable event stream: it may be dropped and rebuilt at any time.
 */
export class NodeSnapshots1764100000000 implements MigrationInterface {
  name = 'NodeSnapshots1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE node_snapshots (
        node_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL,
        document JSONB NOT NULL,
        PRIMARY KEY (node_id, version)
      )`);
    await q.query(`CREATE INDEX node_snapshots_time ON node_snapshots (node_id, recorded_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE node_snapshots`);
  }
}
