import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read model of each node's scaling: its policy, the process count last recommended, and that
 * recommendation. The events themselves are in a stream per node (`scaling/<nodeId>`).
 */
export class NodeScaling1764500000000 implements MigrationInterface {
  name = 'NodeScaling1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE node_scaling (
        node_id TEXT PRIMARY KEY,
        policy JSONB NOT NULL,
        desired INT NOT NULL CHECK (desired >= 0),
        last_recommendation JSONB,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE node_scaling`);
  }
}
