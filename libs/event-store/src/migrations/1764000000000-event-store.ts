import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event store: one stream per node (and one per process for lifecycle events), a global
 * position, and the transaction ID that lets the relay read gap-free (see readMessagesBatch).
 */
export class EventStore1764000000000 implements MigrationInterface {
  name = 'EventStore1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        global_position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id UUID NOT NULL UNIQUE,
        stream_id TEXT NOT NULL,
        stream_version INTEGER NOT NULL,
        node_id TEXT NOT NULL,
        type TEXT NOT NULL,
        payload JSONB NOT NULL,
        secret_payload JSONB,
        metadata JSONB NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        transaction_id XID8 NOT NULL DEFAULT pg_current_xact_id(),
        CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
      )`);
    await q.query(`CREATE INDEX events_relay_order ON events (transaction_id, global_position)`);
    await q.query(`
      CREATE TABLE node_documents (
        node_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        archived BOOLEAN NOT NULL DEFAULT false,
        document JSONB NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE relay_checkpoints (
        name TEXT PRIMARY KEY,
        transaction_id XID8 NOT NULL,
        global_position BIGINT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE processes (
        process_id TEXT PRIMARY KEY,
        node_id TEXT NOT NULL,
        status TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        port_offset INTEGER NOT NULL,
        joined_at TIMESTAMPTZ NOT NULL,
        left_at TIMESTAMPTZ,
        last_seen_at TIMESTAMPTZ NOT NULL
      )`);
    await q.query(`CREATE INDEX processes_node ON processes (node_id, status)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE processes`);
    await q.query(`DROP TABLE relay_checkpoints`);
    await q.query(`DROP TABLE node_documents`);
    await q.query(`DROP TABLE events`);
  }
}
