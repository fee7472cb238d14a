import { randomUUID } from 'node:crypto';
import { ProcessIdentity, ProcessStatus } from '@plexus/domain';
import { appendToStream, readStreamVersion } from './appendToStream';
import { Database, Sql } from './database';
import { EventMetadata, processStreamId } from './stored-event';

export interface ProcessRow extends ProcessIdentity {
  status: ProcessStatus;
  joinedAt: string;
  leftAt: string | null;
  lastSeenAt: string;
  /** Only on rows read from the archive (listProcesses with `archived`). */
  archivedAt?: string;
}

const toProcessRow = (r: any): ProcessRow => ({
  processId: r.process_id,
  nodeId: r.node_id,
  status: r.status,
  host: r.host,
  pid: r.pid,
  portOffset: r.port_offset,
  joinedAt: r.joined_at.toISOString(),
  leftAt: r.left_at ? r.left_at.toISOString() : null,
  lastSeenAt: r.last_seen_at.toISOString(),
  ...(r.archived_at ? { archivedAt: r.archived_at.toISOString() } : {}),
});

async function appendProcessEvent(
  sql: Sql,
  p: ProcessIdentity,
  type: string,
  data: Record<string, unknown>,
  metadata: EventMetadata,
) {
  const stream = processStreamId(p.processId);
  const version = await readStreamVersion(sql, stream);
  await appendToStream(sql, stream, p.nodeId, version, [
    { eventId: randomUUID(), type, data, metadata },
  ]);
}

/**
 * Records a join once: a redelivered announcement finds the row (or its archived copy) and
 * changes nothing. Returns whether it recorded anything.
 */
export async function recordProcessJoined(
  db: Database,
  p: ProcessIdentity,
  at: Date,
  metadata: EventMetadata,
): Promise<boolean> {
  return db.transaction(async (sql) => {
    const inserted = await sql.query(
      `INSERT INTO processes (process_id, node_id, status, host, pid, port_offset, joined_at, last_seen_at)
       SELECT $1, $2, 'up', $3, $4, $5, $6, $6
       WHERE NOT EXISTS (SELECT 1 FROM processes_archive WHERE process_id = $1)
       ON CONFLICT (process_id) DO NOTHING RETURNING process_id`,
      [p.processId, p.nodeId, p.host, p.pid, p.portOffset, at],
    );
    if (!inserted.length) return false;
    await appendProcessEvent(
      sql,
      p,
      'ProcessJoined',
      { ...p, joinedAt: at.toISOString() },
      metadata,
    );
    return true;
  });
}

/**
 * Processes, by node and join time: those of `processes` (live, and gone within the retention),
 * or with `archived` those moved to the archive (archiveProcesses).
 */
export async function listProcesses(
  sql: Sql,
  filter: { nodeId?: string; status?: string; archived?: boolean } = {},
): Promise<ProcessRow[]> {
  const rows = await sql.query<any>(
    `SELECT * FROM ${filter.archived ? 'processes_archive' : 'processes'}
     WHERE ($1::text IS NULL OR node_id = $1) AND ($2::text IS NULL OR status = ANY(string_to_array($2, ',')))
     ORDER BY node_id, joined_at`,
    [filter.nodeId ?? null, filter.status ?? null],
  );
  return rows.map(toProcessRow);
}

/** One process of `processes` (live, or gone within the retention), or null. */
export async function readProcess(sql: Sql, processId: string): Promise<ProcessRow | null> {
  const rows = await sql.query<any>(`SELECT * FROM processes WHERE process_id = $1`, [processId]);
  return rows.length ? toProcessRow(rows[0]) : null;
}

/** An `up` or `lost` process as the failure detector keeps it: times as epoch milliseconds. */
export interface WatchedProcess extends ProcessIdentity {
  status: ProcessStatus;
  joinedAtMs: number;
  lastSeenAtMs: number;
}

/**
 * What the failure detector reads: the up and lost processes. Its condition is the predicate of
 * the partial index processes_watched, which holds no left row (archived ones are in another
 * table), so the scan grows with the live processes and the recently lost ones, not with every
 * process that ever left. Times come as numbers: parsing 10,000 timestamps into Dates and then
 * ISO strings was most of the cost of a read (bench:scale).
 */
export const WATCHED_PROCESSES_SQL = `SELECT process_id, node_id, status, host, pid, port_offset,
  (extract(epoch FROM joined_at) * 1000)::float8 AS joined_ms,
  (extract(epoch FROM last_seen_at) * 1000)::float8 AS last_seen_ms
  FROM processes WHERE status IN ('up', 'lost') ORDER BY node_id, joined_at`;

export async function listWatchedProcesses(sql: Sql): Promise<WatchedProcess[]> {
  return (await sql.query<any>(WATCHED_PROCESSES_SQL, [], 'plexus_watched_processes')).map((r) => ({
    processId: r.process_id,
    nodeId: r.node_id,
    status: r.status,
    host: r.host,
    pid: r.pid,
    portOffset: r.port_offset,
    joinedAtMs: r.joined_ms,
    lastSeenAtMs: r.last_seen_ms,
  }));
}

/**
 * Moves left and lost processes last seen before `before` to processes_archive, at most `batch`
 * per statement (each well within the statement timeout), until none is left. Their events stay
 * in their streams. A lost process that heartbeats again after that is not seen again. Returns
 * how many moved.
 */
export async function archiveProcesses(sql: Sql, before: Date, batch = 5000): Promise<number> {
  let moved = 0;
  for (;;) {
    const rows = await sql.query(
      `WITH gone AS (
         DELETE FROM processes WHERE process_id IN (
           SELECT process_id FROM processes
           WHERE status IN ('left', 'lost') AND last_seen_at < $1 LIMIT $2)
         AND status IN ('left', 'lost') AND last_seen_at < $1
         RETURNING *)
       INSERT INTO processes_archive (process_id, node_id, status, host, pid, port_offset, joined_at, left_at, last_seen_at)
       SELECT process_id, node_id, status, host, pid, port_offset, joined_at, left_at, last_seen_at FROM gone
       ON CONFLICT (process_id) DO NOTHING
       RETURNING process_id`,
      [before, batch],
    );
    moved += rows.length;
    if (rows.length < batch) return moved;
  }
}

/**
 * Moves a process from one of `from` to `to` and records `type`, once: a process in any other
 * status (already moved, or unknown) changes nothing and records nothing. Returns whether it moved.
 */
async function moveProcess(
  db: Database,
  p: ProcessIdentity,
  move: {
    from: ProcessStatus[];
    to: ProcessStatus;
    at: Date;
    type: string;
    data: Record<string, unknown>;
  },
  metadata: EventMetadata,
): Promise<boolean> {
  return db.transaction(async (sql) => {
    const updated = await sql.query(
      `UPDATE processes
       SET status = $3, last_seen_at = $2, left_at = CASE WHEN $3 = 'left' THEN $2 ELSE left_at END
       WHERE process_id = $1 AND status = ANY($4::text[]) RETURNING process_id`,
      [p.processId, move.at, move.to, move.from],
    );
    if (!updated.length) return false;
    await appendProcessEvent(sql, p, move.type, { ...p, ...move.data }, metadata);
    return true;
  });
}

export const recordProcessLeft = (
  db: Database,
  p: ProcessIdentity,
  at: Date,
  metadata: EventMetadata,
) =>
  moveProcess(
    db,
    p,
    {
      from: ['up', 'lost'],
      to: 'left',
      at,
      type: 'ProcessLeft',
      data: { leftAt: at.toISOString() },
    },
    metadata,
  );

/** An `up` process stopped heartbeating; `lastSeen` is when it was last heard from. */
export const recordProcessLost = (
  db: Database,
  p: ProcessIdentity,
  lastSeen: Date,
  metadata: EventMetadata,
) =>
  moveProcess(
    db,
    p,
    {
      from: ['up'],
      to: 'lost',
      at: lastSeen,
      type: 'ProcessLost',
      data: { lastSeenAt: lastSeen.toISOString() },
    },
    metadata,
  );

/** A lost process that heartbeats again is up again, recorded as a rejoin. */
export const recordProcessRejoined = (
  db: Database,
  p: ProcessIdentity,
  at: Date,
  metadata: EventMetadata,
) =>
  moveProcess(
    db,
    p,
    {
      from: ['lost'],
      to: 'up',
      at,
      type: 'ProcessJoined',
      data: { joinedAt: at.toISOString(), rejoined: true },
    },
    metadata,
  );

/** Records a warning about a process (ProcessLimitExceeded, ...) in its stream. */
export async function recordProcessWarning(
  db: Database,
  p: ProcessIdentity,
  type: string,
  data: Record<string, unknown>,
  metadata: EventMetadata,
): Promise<void> {
  await db.transaction((sql) => appendProcessEvent(sql, p, type, { ...p, ...data }, metadata));
}

/** When version `version` of a node's configuration was recorded. */
export async function readVersionTime(
  sql: Sql,
  nodeId: string,
  version: number,
): Promise<Date | null> {
  const [row] = await sql.query<{ recorded_at: Date }>(
    'SELECT recorded_at FROM events WHERE stream_id = $1 AND stream_version = $2',
    [nodeId, version],
  );
  return row?.recorded_at ?? null;
}
