import { Sql } from './database';
import { NewEvent } from './stored-event';

export class StreamVersionConflict extends Error {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
  ) {
    super(`stream ${streamId} is no longer at version ${expectedVersion}`);
  }
}

/** Another writer appended at the same stream version first (the unique key said so). */
export function isVersionClash(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === 'events_stream_version_unique';
}

const INSERT_EVENTS = `
  INSERT INTO events (event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata)
  SELECT e.id, $1, $2::int + e.ord, $3, e.type, e.payload, e.secret_payload, e.metadata
  FROM unnest($4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[], $8::jsonb[]) WITH ORDINALITY
       AS e(id, type, payload, secret_payload, metadata, ord)
  ORDER BY e.ord
  RETURNING global_position`;

/**
 * Appends events to a stream that must be at `expectedVersion`. The unique (stream, version)
 * key makes concurrent appends at the same version fail for all but one writer. (A node's
 * configuration changes, which also save its read model, go through appendNodeWrite.)
 */
export async function appendToStream(
  sql: Sql,
  streamId: string,
  nodeId: string,
  expectedVersion: number,
  events: NewEvent[],
): Promise<{ nextVersion: number; positions: string[] }> {
  const params = [
    streamId,
    expectedVersion,
    nodeId,
    events.map((e) => e.eventId),
    events.map((e) => e.type),
    events.map((e) => JSON.stringify(e.data)),
    events.map((e) => (e.secretData ? JSON.stringify(e.secretData) : null)),
    events.map((e) => JSON.stringify(e.metadata)),
  ];
  try {
    // Prepared: Postgres plans it once per connection instead of at every append.
    const rows = await sql.query<{ global_position: string }>(
      INSERT_EVENTS,
      params,
      'plexus_append_events',
    );
    return {
      nextVersion: expectedVersion + events.length,
      positions: rows.map((r) => String(r.global_position)),
    };
  } catch (err) {
    if (isVersionClash(err)) throw new StreamVersionConflict(streamId, expectedVersion);
    throw err;
  }
}

/** The version a stream is at: the number of events in it. */
export async function readStreamVersion(sql: Sql, streamId: string): Promise<number> {
  const [row] = await sql.query<{ v: number | null }>(
    'SELECT max(stream_version) AS v FROM events WHERE stream_id = $1',
    [streamId],
  );
  return row?.v ?? 0;
}
