import { randomUUID } from 'node:crypto';
import { desiredAfterPolicy, notFound, ScalingMetric, ScalingPolicy } from '@plexus/domain';
import { appendToStream, readStreamVersion } from './appendToStream';
import { Database, Sql } from './database';
import { lockNodeDocument } from './node-locks';
import { PreconditionFailed } from './precondition-failed';
import {
  EventMetadata,
  EventRow,
  NewEvent,
  scalingStreamId,
  StoredEvent,
  toStoredEvent,
} from './stored-event';

/** The payload of ScaleRecommended. */
export interface ScaleRecommendation {
  from: number;
  to: number;
  /** Live processes of the node when it was decided. */
  currentProcesses: number;
  metric: ScalingMetric;
  /** Average metric over the live processes that reported load; null without load data. */
  currentValue: number | null;
  target: number;
  reason: string;
}

export interface ScalingState {
  nodeId: string;
  policy: ScalingPolicy;
  /** The process count to run: the last recommendation. */
  desired: number;
  lastRecommendation: (ScaleRecommendation & { recordedAt: string }) | null;
  updatedAt: string;
}

interface ScalingRow {
  node_id: string;
  policy: ScalingPolicy;
  desired: number;
  last_recommendation: ScalingState['lastRecommendation'];
  updated_at: Date;
}

const toState = (r: ScalingRow): ScalingState => ({
  nodeId: r.node_id,
  policy: r.policy,
  desired: r.desired,
  lastRecommendation: r.last_recommendation,
  updatedAt: r.updated_at.toISOString(),
});

export async function readScalingState(sql: Sql, nodeId: string): Promise<ScalingState | null> {
  const [row] = await sql.query<ScalingRow>('SELECT * FROM node_scaling WHERE node_id = $1', [
    nodeId,
  ]);
  return row ? toState(row) : null;
}

/** Every node with a policy that is not archived (what the autoscaler evaluates). */
export async function listScalingStates(sql: Sql): Promise<ScalingState[]> {
  const rows = await sql.query<ScalingRow>(
    `SELECT s.* FROM node_scaling s JOIN node_documents d USING (node_id)
     WHERE NOT d.archived ORDER BY s.node_id`,
  );
  return rows.map(toState);
}

async function appendScalingEvents(
  sql: Sql,
  nodeId: string,
  events: { type: string; data: Record<string, unknown> }[],
  metadata: EventMetadata,
) {
  const stream = scalingStreamId(nodeId);
  const version = await readStreamVersion(sql, stream);
  const newEvents: NewEvent[] = events.map((e) => ({ eventId: randomUUID(), ...e, metadata }));
  await appendToStream(sql, stream, nodeId, version, newEvents);
}

/**
 * Records ScalingPolicySet (with the count to run under it: the current recommendation, or
 * without one the live process count, within [min, max]) and, when that count differs from the
 * current one, ScaleRecommended. 404 for a node that does not exist or is archived;
 * PreconditionFailed, storing nothing, when `expectedVersion` (If-Match) is not the node's
 * version, checked under the node's row lock like every other write to the node.
 */
export async function setScalingPolicy(
  db: Database,
  nodeId: string,
  policy: ScalingPolicy,
  metadata: EventMetadata,
  expectedVersion?: number,
): Promise<ScalingState> {
  return db.transaction(async (sql) => {
    const doc = await lockNodeDocument(sql, nodeId);
    if (!doc || doc.archived) throw notFound(`node "${nodeId}" does not exist`);
    if (expectedVersion !== undefined && expectedVersion !== doc.version)
      throw new PreconditionFailed(expectedVersion, doc.version);
    const [existing] = await sql.query<ScalingRow>(
      'SELECT * FROM node_scaling WHERE node_id = $1 FOR UPDATE',
      [nodeId],
    );
    const [{ live }] = await sql.query<{ live: number }>(
      `SELECT count(*)::int AS live FROM processes WHERE node_id = $1 AND status = 'up'`,
      [nodeId],
    );
    const current = existing ? existing.desired : live;
    const desired = desiredAfterPolicy(current, policy);
    const events: { type: string; data: Record<string, unknown> }[] = [
      { type: 'ScalingPolicySet', data: { ...policy, desired } },
    ];
    let recommendation: ScalingState['lastRecommendation'] = existing?.last_recommendation ?? null;
    if (desired !== current) {
      const data: ScaleRecommendation = {
        from: current,
        to: desired,
        currentProcesses: live,
        metric: policy.metric,
        currentValue: null,
        target: policy.target,
        reason: `the policy asks for ${policy.min} to ${policy.max} processes`,
      };
      events.push({ type: 'ScaleRecommended', data: { ...data } });
      recommendation = { ...data, recordedAt: new Date().toISOString() };
    }
    await appendScalingEvents(sql, nodeId, events, metadata);
    const [row] = await sql.query<ScalingRow>(
      `INSERT INTO node_scaling (node_id, policy, desired, last_recommendation, updated_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (node_id) DO UPDATE SET policy = EXCLUDED.policy, desired = EXCLUDED.desired,
         last_recommendation = EXCLUDED.last_recommendation, updated_at = now()
       RETURNING *`,
      [nodeId, JSON.stringify(policy), desired, recommendation && JSON.stringify(recommendation)],
    );
    return toState(row);
  });
}

/**
 * Records ScaleRecommended if the node still asks for `recommendation.from` processes under
 * `policy` (a policy set meanwhile wins). Returns whether it recorded it.
 */
export async function recordScaleRecommended(
  db: Database,
  nodeId: string,
  policy: ScalingPolicy,
  recommendation: ScaleRecommendation,
  metadata: EventMetadata,
): Promise<boolean> {
  return db.transaction(async (sql) => {
    const updated = await sql.query(
      `UPDATE node_scaling SET desired = $2, last_recommendation = $3, updated_at = now()
       WHERE node_id = $1 AND desired = $4 AND policy = $5::jsonb RETURNING node_id`,
      [
        nodeId,
        recommendation.to,
        JSON.stringify({ ...recommendation, recordedAt: new Date().toISOString() }),
        recommendation.from,
        JSON.stringify(policy),
      ],
    );
    if (!updated.length) return false;
    await appendScalingEvents(
      sql,
      nodeId,
      [{ type: 'ScaleRecommended', data: { ...recommendation } }],
      metadata,
    );
    return true;
  });
}

/**
 * The last event of every node's scaling stream: a ScalingPolicySet or ScaleRecommended, which
 * sets the node's desired process count (what the relay copies to the scaling bucket).
 */
export async function readLatestScalingEvents(sql: Sql): Promise<StoredEvent[]> {
  const rows = await sql.query<EventRow>(
    `SELECT e.event_id, e.node_id, e.stream_id, e.stream_version, e.global_position, e.type,
            e.payload, e.metadata, e.recorded_at
     FROM node_scaling s
     CROSS JOIN LATERAL (
       SELECT * FROM events WHERE stream_id = $1 || s.node_id
       ORDER BY stream_version DESC LIMIT 1) e`,
    [scalingStreamId('')],
  );
  return rows.map(toStoredEvent);
}
