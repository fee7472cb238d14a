import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes of the audit query (GET /events, libs/event-store/src/queryEvents.ts). A listing is
 * ordered newest first by (recorded_at, global_position) and paged on that pair, so every index
 * is (filter column, recorded_at, global_position): a backward scan yields the page in order,
 * stops after `limit + 1` rows and takes the keyset cursor as an index condition, however deep
 * the page. Chosen from EXPLAIN (ANALYZE) on bench:audit's 1,010,000 events over 1,000 nodes:
 *
 * - events_audit_time: no filter (0.2-0.7 ms), from/to (0.1-0.5 ms), and filters matching a large
 *   share of events, which the planner reads off this index (type=ModuleConfigChanged,
 *   actor=admin: 0.3-2.7 ms). Ordering by global_position instead would make a window in the
 *   past skip every newer event on the primary key: 180-200 ms for one 30-60 days back.
 * - events_audit_node: nodeId (0.1 % of events each: 1-2 ms, deep pages 2 ms); nodeId + type is
 *   this index alone or a BitmapAnd with events_audit_type (0.7-15 ms).
 * - events_audit_module, partial (only events naming a module): moduleId, 0.3-2.3 ms.
 * - events_audit_type: rare types (NodeArchived: 0.1 ms), where events_audit_time would scan the
 *   whole table, and one branch per type when several are asked (0.3-0.5 ms).
 * - events_audit_actor: rare actors (break-glass, 219 events: 2-6 ms; a scan of
 *   events_audit_time would read everything) and actor + time range (0.4-3.3 ms).
 * - events_audit_correlation: correlationId (0.1 ms); ordered so that one correlation ID on many
 *   events (a scripted rollout) still reads a page, not all of them.
 *
 * One index per filter and no more: every one costs every append. Measured: bulk inserts take
 * about twice the CPU per row (19 -> 35-43 us); single-event appends, 16 concurrent, which wait
 * on the commit, lose 4-6 % of their rate. Built in the migration's transaction (on 1 M events
 * about 15 s, during which appends wait).
 */
export class AuditIndexes1764200000000 implements MigrationInterface {
  name = 'AuditIndexes1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX events_audit_time ON events (recorded_at, global_position)`);
    await q.query(
      `CREATE INDEX events_audit_node ON events (node_id, recorded_at, global_position)`,
    );
    await q.query(`CREATE INDEX events_audit_module ON events ((payload->>'moduleId'), recorded_at, global_position)
      WHERE payload->>'moduleId' IS NOT NULL`);
    await q.query(`CREATE INDEX events_audit_type ON events (type, recorded_at, global_position)`);
    await q.query(
      `CREATE INDEX events_audit_actor ON events ((metadata->>'actor'), recorded_at, global_position)`,
    );
    await q.query(
      `CREATE INDEX events_audit_correlation ON events ((metadata->>'correlationId'), recorded_at, global_position)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['time', 'node', 'module', 'type', 'actor', 'correlation'])
      await q.query(`DROP INDEX events_audit_${name}`);
  }
}
