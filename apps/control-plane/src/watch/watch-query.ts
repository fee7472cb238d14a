import { BadRequestException } from '@nestjs/common';
import { RecordedEvent } from '@plexus/domain';
import { EventSelectors, parseEventSelectors } from '../events/events-query';

/** A validated GET /watch request. */
export interface WatchQuery {
  selectors: EventSelectors;
  /** Replay from Postgres what came after the event at this global position, then go live. */
  after?: string;
}

const KNOWN = ['nodeId', 'moduleId', 'type', 'actor', 'correlationId', 'after'];

const bad = (message: string) => new BadRequestException(message);

function position(name: string, value: unknown): string {
  if (typeof value !== 'string' || !/^\d{1,18}$/.test(value))
    throw bad(
      `${name} must be the global position of an event (the id: of a message), a whole number; got ${JSON.stringify(value)}`,
    );
  return String(BigInt(value));
}

/**
 * Validates GET /watch's query string and Last-Event-ID header; every refusal names the field and
 * its rule. The header wins over `after`: a browser's EventSource reconnects to the same URL with
 * the header set to the last message it received, which is later than the URL's `after`.
 */
export function parseWatchQuery(
  query: Record<string, unknown>,
  lastEventId: string | string[] | undefined,
): WatchQuery {
  const unknown = Object.keys(query).filter((k) => !KNOWN.includes(k));
  if (unknown.length)
    throw bad(`${unknown.join(', ')}: not a known parameter (known: ${KNOWN.join(', ')})`);
  const selectors = parseEventSelectors(query);
  if (lastEventId !== undefined && lastEventId !== '')
    return { selectors, after: position('Last-Event-ID', lastEventId) };
  if (query.after !== undefined) return { selectors, after: position('after', query.after) };
  return { selectors };
}

/** Whether an event passes every filter given (AND), as GET /events's query would select it. */
export function matchesSelectors(event: RecordedEvent, s: EventSelectors): boolean {
  if (s.nodeId !== undefined && event.nodeId !== s.nodeId) return false;
  if (s.types !== undefined && !s.types.includes(event.type)) return false;
  if (s.moduleId !== undefined && event.data?.moduleId !== s.moduleId) return false;
  if (s.actor !== undefined && event.metadata?.actor !== s.actor) return false;
  if (s.correlationId !== undefined && event.metadata?.correlationId !== s.correlationId)
    return false;
  return true;
}
