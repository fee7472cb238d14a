import { Sql } from './database';
import { LeaseFence, leaseHeld } from './leader-lease';
import { EventRow, StoredEvent, toStoredEvent } from './stored-event';

export type HookDeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

/** What happened to one try of a delivery, or that the hook's breaker held it back. */
export interface HookDeliveryOutcome {
  at: string;
  /** `succeeded`, `http-error`, `timeout`, `connection-error`, `target-refused` or `breaker-open`. */
  outcome: string;
  /** The attempt's number; absent when no attempt was made (breaker-open). */
  attempt?: number;
  httpStatus?: number;
  error?: string;
  durationMs?: number;
  /** When the attempt failed and another follows: the backoff chosen. */
  retryInMs?: number;
}

export interface HookDelivery {
  deliveryId: string;
  hookId: string;
  eventId: string;
  eventType: string;
  status: HookDeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastOutcome: string | null;
  outcomes: HookDeliveryOutcome[];
  createdAt: string;
  updatedAt: string;
}

const toDelivery = (r: any): HookDelivery => ({
  deliveryId: r.delivery_id,
  hookId: r.hook_id,
  eventId: r.event_id,
  eventType: r.event_type,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at ? r.next_attempt_at.toISOString() : null,
  lastOutcome: r.last_outcome,
  outcomes: r.outcomes,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** A hook's deliveries, newest first. */
export async function listHookDeliveries(
  sql: Sql,
  hookId: string,
  limit: number,
): Promise<HookDelivery[]> {
  const rows = await sql.query(
    'SELECT * FROM hook_deliveries WHERE hook_id = $1 ORDER BY seq DESC LIMIT $2',
    [hookId, limit],
  );
  return rows.map(toDelivery);
}

/** Each live hook with something to send, and when its oldest pending delivery is due. */
export async function listHookQueues(sql: Sql): Promise<{ hookId: string; nextAttemptAt: Date }[]> {
  const rows = await sql.query<{ id: string; next_attempt_at: Date }>(
    `SELECT h.id, d.next_attempt_at
     FROM hooks h
     CROSS JOIN LATERAL (
       SELECT next_attempt_at FROM hook_deliveries
       WHERE hook_id = h.id AND status = 'pending' ORDER BY seq LIMIT 1) d
     WHERE h.deleted_at IS NULL`,
  );
  return rows.map((r) => ({ hookId: r.id, nextAttemptAt: r.next_attempt_at }));
}

/** The head of a hook's queue, with what it takes to send it. */
export interface DueHookDelivery {
  deliveryId: string;
  hookId: string;
  url: string;
  secret: string;
  attempts: number;
  nextAttemptAt: Date;
  lastOutcome: string | null;
  /** As the audit API and the events stream show it: secrets redacted. */
  event: StoredEvent;
}

/** A live hook's oldest pending delivery (deliveries of one hook go out in order), or null. */
export async function readHookQueueHead(sql: Sql, hookId: string): Promise<DueHookDelivery | null> {
  const [row] = await sql.query<
    EventRow & {
      delivery_id: string;
      url: string;
      secret: string;
      attempts: number;
      next_attempt_at: Date;
      last_outcome: string | null;
    }
  >(
    `SELECT d.delivery_id, d.attempts, d.next_attempt_at, d.last_outcome, h.url, h.secret,
            e.event_id, e.node_id, e.stream_id, e.stream_version, e.global_position, e.type,
            e.payload, e.metadata, e.recorded_at
     FROM hooks h
     JOIN LATERAL (
       SELECT * FROM hook_deliveries
       WHERE hook_id = h.id AND status = 'pending' ORDER BY seq LIMIT 1) d ON true
     JOIN events e ON e.event_id = d.event_id
     WHERE h.id = $1 AND h.deleted_at IS NULL`,
    [hookId],
  );
  if (!row) return null;
  return {
    deliveryId: row.delivery_id,
    hookId,
    url: row.url,
    secret: row.secret,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastOutcome: row.last_outcome,
    event: toStoredEvent(row),
  };
}

/**
 * Records one attempt: `succeeded`, `failed` (no more tries) or still `pending` until
 * `nextAttemptAt`. Only a pending delivery with `attempts` tries so far moves, and only while the
 * leadership term the attempt was made under is current (`fence`, in the same statement), so a
 * replica that lost its lease mid-attempt cannot overwrite what the new leader recorded; the
 * delivery is then sent again with the same delivery ID. Returns whether it moved.
 */
export async function recordHookAttempt(
  sql: Sql,
  deliveryId: string,
  attemptsBefore: number,
  result: {
    status: Exclude<HookDeliveryStatus, 'cancelled'>;
    nextAttemptAt: Date | null;
    outcome: HookDeliveryOutcome;
  },
  fence?: LeaseFence,
): Promise<boolean> {
  const rows = await sql.query(
    `UPDATE hook_deliveries
     SET attempts = attempts + 1, status = $3, next_attempt_at = $4, last_outcome = $5,
         outcomes = outcomes || jsonb_build_array($6::jsonb), updated_at = now()
     WHERE delivery_id = $1 AND status = 'pending' AND attempts = $2
       ${fence ? `AND ${leaseHeld('$7', '$8')}` : ''}
     RETURNING delivery_id`,
    [
      deliveryId,
      attemptsBefore,
      result.status,
      result.nextAttemptAt,
      result.outcome.outcome,
      JSON.stringify(result.outcome),
      ...(fence ? [fence.lease, fence.term] : []),
    ],
  );
  return rows.length > 0;
}

/**
 * Notes that the hook's breaker is holding a delivery back, once per time the breaker opens:
 * nothing is recorded while the last outcome already says so (nor once `fence`'s term is over).
 */
export async function recordHookDeliveryHeldBack(
  sql: Sql,
  deliveryId: string,
  outcome: HookDeliveryOutcome,
  fence?: LeaseFence,
): Promise<boolean> {
  const rows = await sql.query(
    `UPDATE hook_deliveries
     SET last_outcome = $2, outcomes = outcomes || jsonb_build_array($3::jsonb), updated_at = now()
     WHERE delivery_id = $1 AND status = 'pending' AND last_outcome IS DISTINCT FROM $2
       ${fence ? `AND ${leaseHeld('$4', '$5')}` : ''}
     RETURNING delivery_id`,
    [
      deliveryId,
      outcome.outcome,
      JSON.stringify(outcome),
      ...(fence ? [fence.lease, fence.term] : []),
    ],
  );
  return rows.length > 0;
}
