import { BadRequestException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { ALL_EVENT_TYPES, idProblem } from '@plexus/domain';
import { EventFilter, EventListCursor } from '@plexus/event-store';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** A validated GET /events query. */
export interface EventsQuery {
  filter: EventFilter;
  after?: EventListCursor;
  limit: number;
  format: 'json' | 'ndjson';
}

const KNOWN = [
  'nodeId',
  'moduleId',
  'type',
  'actor',
  'correlationId',
  'from',
  'to',
  'after',
  'limit',
  'format',
];

const bad = (message: string) => new BadRequestException(message);

/** The one value of a parameter that may be given once; undefined when absent. */
function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw bad(`${name} must be given once, as a plain value`);
  return value;
}

function text(query: Record<string, unknown>, name: string): string | undefined {
  const value = single(query, name);
  if (value !== undefined && (value.length < 1 || value.length > 200))
    throw bad(`${name} must be 1-200 characters`);
  return value;
}

function id(query: Record<string, unknown>, name: string): string | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  const problem = idProblem(name, value);
  if (problem) throw bad(problem);
  return value;
}

function time(query: Record<string, unknown>, name: string): Date | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime()))
    throw bad(`${name} must be an ISO-8601 time such as 2026-01-31T12:00:00Z, got ${value}`);
  return date;
}

/** `type=A&type=B`, `type=A,B` or both; every one a known event type. */
function types(query: Record<string, unknown>): string[] | undefined {
  const raw = query.type;
  if (raw === undefined) return undefined;
  const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) =>
    typeof v === 'string' ? v.split(',').map((t) => t.trim()) : [''],
  );
  for (const t of values) {
    if (!ALL_EVENT_TYPES.includes(t))
      throw bad(
        `type must be one or more of ${ALL_EVENT_TYPES.join(', ')} (repeated or comma-separated); got "${t}"`,
      );
  }
  return [...new Set(values)];
}

function limit(query: Record<string, unknown>): number {
  const value = single(query, 'limit');
  if (value === undefined) return DEFAULT_LIMIT;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > MAX_LIMIT)
    throw bad(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${value}`);
  return Number(value);
}

/** Which filters a cursor was issued for: a cursor only continues the listing it came from. */
function fingerprint(filter: EventFilter): string {
  const canonical = JSON.stringify([
    filter.nodeId ?? null,
    filter.moduleId ?? null,
    [...(filter.types ?? [])].sort(),
    filter.actor ?? null,
    filter.correlationId ?? null,
    filter.from?.toISOString() ?? null,
    filter.to?.toISOString() ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

const SNAPSHOT = /^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20}){0,9999})?$/;
const BAD_CURSOR = 'after must be the `next` cursor of a previous answer, unchanged';

/** `next`: opaque to clients (base64url JSON): the listing's snapshot, the last sort key, the filters. */
export function encodeCursor(cursor: EventListCursor, filter: EventFilter): string {
  const body = { s: cursor.snapshot, t: cursor.recordedAtUs, p: cursor.position };
  return Buffer.from(JSON.stringify({ ...body, f: fingerprint(filter) })).toString('base64url');
}

function decodeCursor(token: string, filter: EventFilter): EventListCursor {
  if (!/^[A-Za-z0-9_-]{1,8192}$/.test(token)) throw bad(BAD_CURSOR);
  let body: { s?: unknown; t?: unknown; p?: unknown; f?: unknown };
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad(BAD_CURSOR);
  }
  const { s, t, p, f } = body ?? {};
  if (
    typeof s !== 'string' ||
    !SNAPSHOT.test(s) ||
    typeof t !== 'string' ||
    !/^-?\d{1,18}$/.test(t) ||
    typeof p !== 'string' ||
    !/^\d{1,18}$/.test(p)
  )
    throw bad(BAD_CURSOR);
  if (f !== fingerprint(filter))
    throw bad(
      'after continues a listing with other filters: repeat the same nodeId, moduleId, type, actor, correlationId, from and to, or start again without after',
    );
  return { snapshot: s, recordedAtUs: t, position: p };
}

/** The filters GET /events and GET /watch share: nodeId, moduleId, type, actor, correlationId. */
export type EventSelectors = Pick<
  EventFilter,
  'nodeId' | 'moduleId' | 'types' | 'actor' | 'correlationId'
>;

/** Validates the filters GET /events and GET /watch share (absent ones stay undefined). */
export function parseEventSelectors(query: Record<string, unknown>): EventSelectors {
  return {
    nodeId: id(query, 'nodeId'),
    moduleId: id(query, 'moduleId'),
    types: types(query),
    actor: text(query, 'actor'),
    correlationId: text(query, 'correlationId'),
  };
}

/** Validates GET /events's query string; every refusal names the parameter and its rule. */
export function parseEventsQuery(query: Record<string, unknown>): EventsQuery {
  const unknown = Object.keys(query).filter((k) => !KNOWN.includes(k));
  if (unknown.length)
    throw bad(`${unknown.join(', ')}: not a known parameter (known: ${KNOWN.join(', ')})`);
  const filter: EventFilter = {
    ...parseEventSelectors(query),
    from: time(query, 'from'),
    to: time(query, 'to'),
  };
  if (filter.from && filter.to && filter.from > filter.to)
    throw bad('from must not be later than to');
  const format = single(query, 'format') ?? 'json';
  if (format !== 'json' && format !== 'ndjson')
    throw bad(`format must be json or ndjson, got ${format}`);
  const after = single(query, 'after');
  return {
    filter,
    after: after === undefined ? undefined : decodeCursor(after, filter),
    limit: limit(query),
    format,
  };
}
