import { randomUUID } from 'node:crypto';
import { Database } from './database';
import { EventMetadata, processStreamId } from './stored-event';

/** What a process reported after applying a node document (see libs/bus AppliedReport). */
export interface ConfigReport {
  processId: string;
  nodeId: string;
  version: number;
  ok: boolean;
  /** Module states as reported: `{moduleId: {state, version, error?}}`. */
  modules: Record<string, unknown>;
  /** When the control plane received it. */
  receivedAt: Date;
}

export interface RecordedConfigReports {
  /** Reports now recorded as ProcessConfigApplied / ProcessConfigFailed. */
  recorded: ConfigReport[];
  /** Reports of processes whose join is not recorded yet: try again later. */
  unknownProcess: ConfigReport[];
  /** When each (node, version) named by a report was recorded, as `${nodeId}@${version}`. */
  versionTimes: Map<string, Date>;
}

const INSERT_REPORTS = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::int[], $6::jsonb[], $7::jsonb[])
      WITH ORDINALITY AS r(stream_id, node_id, event_id, type, version, payload, metadata, ord)),
  fresh AS (
    SELECT r.* FROM input r
    WHERE NOT EXISTS (
      SELECT 1 FROM events e
      WHERE e.stream_id = r.stream_id AND e.type IN ('ProcessConfigApplied', 'ProcessConfigFailed')
        AND (e.payload->>'version')::int = r.version)),
  heads AS (
    SELECT stream_id, max(stream_version) AS v FROM events
    WHERE stream_id IN (SELECT stream_id FROM fresh) GROUP BY stream_id)
  INSERT INTO events (event_id, stream_id, stream_version, node_id, type, payload, metadata)
  SELECT f.event_id, f.stream_id,
         coalesce(h.v, 0) + row_number() OVER (PARTITION BY f.stream_id ORDER BY f.ord),
         f.node_id, f.type, f.payload, f.metadata
  FROM fresh f LEFT JOIN heads h USING (stream_id)
  ORDER BY f.ord
  RETURNING event_id`;

/**
 * Records many processes' applied/failed reports as ProcessConfigApplied / ProcessConfigFailed
 * events in one transaction: one event per (process, version), so a report heard twice (or
 * again by a new leader) records nothing more. Only processes whose join is recorded get events;
 * the others are handed back to retry, since a report can overtake the join announcement.
 */
export async function recordConfigReports(
  db: Database,
  reports: ConfigReport[],
  metadata: Omit<EventMetadata, 'correlationId'>,
): Promise<RecordedConfigReports> {
  return db.transaction(async (sql) => {
    const known = new Set(
      (
        await sql.query<{ process_id: string }>(
          'SELECT process_id FROM processes WHERE process_id = ANY($1::text[])',
          [[...new Set(reports.map((r) => r.processId))]],
        )
      ).map((r) => r.process_id),
    );
    const ready = reports.filter((r) => known.has(r.processId));
    const unknownProcess = reports.filter((r) => !known.has(r.processId));
    const versionTimes = new Map<string, Date>();
    if (!ready.length) return { recorded: [], unknownProcess, versionTimes };
    const ids = ready.map(() => randomUUID());
    const inserted = await sql.query<{ event_id: string }>(INSERT_REPORTS, [
      ready.map((r) => processStreamId(r.processId)),
      ready.map((r) => r.nodeId),
      ids,
      ready.map((r) => (r.ok ? 'ProcessConfigApplied' : 'ProcessConfigFailed')),
      ready.map((r) => r.version),
      ready.map((r) =>
        JSON.stringify({
          processId: r.processId,
          nodeId: r.nodeId,
          version: r.version,
          modules: r.modules,
          reportedAt: r.receivedAt.toISOString(),
        }),
      ),
      ready.map((r) => JSON.stringify({ ...metadata, correlationId: r.processId })),
    ]);
    const insertedIds = new Set(inserted.map((r) => r.event_id));
    const recorded = ready.filter((_, i) => insertedIds.has(ids[i]));
    const times = await sql.query<{ node_id: string; stream_version: number; recorded_at: Date }>(
      `SELECT stream_id AS node_id, stream_version, recorded_at FROM events
       WHERE (stream_id, stream_version) IN (SELECT * FROM unnest($1::text[], $2::int[]))`,
      [ready.map((r) => r.nodeId), ready.map((r) => r.version)],
    );
    for (const t of times) versionTimes.set(`${t.node_id}@${t.stream_version}`, t.recorded_at);
    return { recorded, unknownProcess, versionTimes };
  });
}
