import { Sql } from './database';
import { EventRow, StoredEvent, toStoredEvent } from './stored-event';

/** The audit filters; every one given must match (AND). */
export interface EventFilter {
  nodeId?: string;
  /** `payload->>'moduleId'`: the module events of that module ID, on any node. */
  moduleId?: string;
  /** Any of these types. */
  types?: string[];
  /** `metadata->>'actor'` */
  actor?: string;
  /** `metadata->>'correlationId'` */
  correlationId?: string;
  /** recorded_at >= from */
  from?: Date;
  /** recorded_at < to */
  to?: Date;
}

/**
 * Where a listing is. `snapshot` is the Postgres snapshot (`pg_snapshot` text) taken by the
 * listing's first page: every page shows exactly the events whose transactions had committed
 * when the listing began, so appends during the walk can neither repeat nor hide an event.
 * `recordedAtUs` and `position` are the sort key of the last event returned.
 */
export interface EventListCursor {
  snapshot: string;
  /** recorded_at in whole microseconds since the Unix epoch (JavaScript dates keep only ms). */
  recordedAtUs: string;
  position: string;
}

export interface EventPage {
  events: StoredEvent[];
  /** Null on the last page. */
  next: EventListCursor | null;
}

const COLUMNS = `event_id, node_id, stream_id, stream_version, global_position, type, payload, metadata,
  recorded_at, (extract(epoch FROM recorded_at) * 1000000)::bigint::text AS recorded_us`;

const ORDER = 'ORDER BY recorded_at DESC, global_position DESC';

type Row = EventRow & { recorded_us: string; snapshot: string };

/**
 * One page of the audit log, newest first: ordered by (recorded_at, global_position) descending,
 * keyset-paginated on that pair, within the snapshot of the listing's first page. The cursor's
 * snapshot makes the listing stable under concurrent appends: a transaction still running when
 * the listing began (even one holding a lower position) belongs to a newer listing.
 *
 * The WHERE clause holds only the filters given, so that the planner sees each one and can
 * pick its index (see migrations/1764200000000-audit-indexes.ts). Several types become one
 * branch per type (UNION ALL, each reading at most `limit + 1` rows from the type index), then a
 * merge: Postgres 15 cannot read `type = ANY(...)` from an index in (recorded_at, position) order.
 * `secret_payload` is never selected.
 */
export async function queryEvents(
  sql: Sql,
  filter: EventFilter,
  page: { after?: EventListCursor; limit: number },
): Promise<EventPage> {
  const params: unknown[] = [page.after?.snapshot ?? null, page.limit + 1];
  const param = (value: unknown) => `$${params.push(value)}`;

  const where = ['pg_visible_in_snapshot(transaction_id, (SELECT s FROM snap))'];
  if (filter.nodeId !== undefined) where.push(`node_id = ${param(filter.nodeId)}`);
  if (filter.moduleId !== undefined) where.push(`payload->>'moduleId' = ${param(filter.moduleId)}`);
  if (filter.actor !== undefined) where.push(`metadata->>'actor' = ${param(filter.actor)}`);
  if (filter.correlationId !== undefined)
    where.push(`metadata->>'correlationId' = ${param(filter.correlationId)}`);
  if (filter.from !== undefined) where.push(`recorded_at >= ${param(filter.from)}::timestamptz`);
  if (filter.to !== undefined) where.push(`recorded_at < ${param(filter.to)}::timestamptz`);
  if (page.after) {
    const us = param(page.after.recordedAtUs);
    const position = param(page.after.position);
    where.push(
      `(recorded_at, global_position) < ('epoch'::timestamptz + ${us}::bigint * interval '1 microsecond', ${position}::bigint)`,
    );
  }

  const types = [...new Set(filter.types ?? [])];
  // With a node, its own index is the short path: a node has few events, and letting the planner
  // AND it with the type index measured 27 ms at p95 against 9 ms for the node index alone.
  // `type || ''` keeps the type index out of that plan.
  const typeIs = (t: string) =>
    filter.nodeId !== undefined ? `(type || '') = ${param(t)}` : `type = ${param(t)}`;
  const select = (extra: string[]) =>
    `SELECT ${COLUMNS} FROM events WHERE ${[...where, ...extra].join(' AND ')} ${ORDER} LIMIT $2`;
  const body =
    types.length > 1
      ? `SELECT * FROM (${types.map((t) => `(${select([typeIs(t)])})`).join(' UNION ALL ')}) AS by_type ${ORDER} LIMIT $2`
      : select(types.length ? [typeIs(types[0])] : []);

  const rows = await sql.query<Row>(
    `WITH snap AS MATERIALIZED (SELECT coalesce($1::pg_snapshot, pg_current_snapshot()) AS s)
     SELECT page.*, (SELECT s::text FROM snap) AS snapshot FROM (${body}) AS page ${ORDER}`,
    params,
  );
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return {
    events: shown.map(toStoredEvent),
    next:
      rows.length > page.limit
        ? {
            snapshot: last.snapshot,
            recordedAtUs: last.recorded_us,
            position: String(last.global_position),
          }
        : null,
  };
}
