import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks and their deliveries. A hook receives the events of transactions after the one that
 * created it (`start_transaction_id`, compared with events.transaction_id: see
 * dispatchHookDeliveries). A delivery row is made once per hook and event by the dispatcher, which
 * follows the event log with its own checkpoint, so deliveries survive a restart; `seq` is the
 * order they go out in, oldest first per hook. `outcomes` is the history of a delivery: every
 * attempt (and every time the hook's breaker held it back), a few entries per delivery.
 */
export class Webhooks1764400000000 implements MigrationInterface {
  name = 'Webhooks1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hooks (
        id UUID PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT[] NOT NULL,
        secret TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        deleted_at TIMESTAMPTZ,
        start_transaction_id XID8 NOT NULL DEFAULT pg_current_xact_id()
      )`);
    await q.query(`
      CREATE TABLE hook_deliveries (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_id UUID NOT NULL UNIQUE,
        hook_id UUID NOT NULL REFERENCES hooks (id),
        event_id UUID NOT NULL,
        event_type TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
          CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ,
        last_outcome TEXT,
        outcomes JSONB NOT NULL DEFAULT '[]',
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT hook_deliveries_once UNIQUE (hook_id, event_id)
      )`);
    // The queue: each hook's oldest pending delivery, without reading what was already delivered.
    await q.query(
      `CREATE INDEX hook_deliveries_pending ON hook_deliveries (hook_id, seq) WHERE status = 'pending'`,
    );
    // GET /hooks/:id/deliveries, newest first.
    await q.query(`CREATE INDEX hook_deliveries_listing ON hook_deliveries (hook_id, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE hook_deliveries`);
    await q.query(`DROP TABLE hooks`);
  }
}
