import { NatsConnection } from 'nats';
import { Client } from 'pg';
import { EVENTS_STREAM, EVENTS_SUBJECTS, nodeEventsFilter, PublishedEvent } from '@plexus/bus';

/** Tests look at events of the last hour: their node IDs are unique, and a run takes minutes. */
const LOOK_BACK_MS = 60 * 60 * 1000;

/**
 * Every event of a node stored in the JetStream events stream (in the last hour), in stream order.
 * The consumer starts at a time, not at the stream's first message: the shared NATS keeps every
 * event of every test and benchmark run, and a filtered read from the start of a stream of a
 * million messages outlasts the wait for the first match.
 */
export async function eventsOnStream(
  nc: NatsConnection,
  nodeId: string,
): Promise<PublishedEvent[]> {
  const consumer = await nc.jetstream().consumers.get(EVENTS_STREAM, {
    filterSubjects: nodeEventsFilter(nodeId),
    opt_start_time: new Date(Date.now() - LOOK_BACK_MS).toISOString(),
  });
  const out: PublishedEvent[] = [];
  try {
    // num_pending says how many to read; when it says none, one short read makes sure.
    let pending = (await consumer.info()).num_pending;
    for (let first = true; pending > 0 || first; first = false) {
      const msg = await consumer.next({ expires: pending > 0 ? 5000 : 1000 });
      if (!msg) break;
      out.push(msg.json<PublishedEvent>());
      pending = msg.info.pending;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return out;
}

/** How the events stream compares with the event table of one database (see auditEventStream). */
export interface EventStreamAudit {
  /** Events in the table. */
  inPostgres: number;
  /** Events of the table that the stream lacks. */
  missing: number;
  /** Messages on the stream beyond the first for an event. */
  duplicates: number;
  /** Events that came on the stream before one the relay must publish before them. */
  outOfOrder: number;
  /** Up to 5 missing event IDs, to look into. */
  missingSample: string[];
}

/**
 * Compares the events stream with a database's event table: each event once, in the relay's order
 * ((transaction, position), see readMessagesBatch). Messages of other databases (other tests on
 * the same NATS) are told apart by event ID and ignored. `since`: read the stream from then on.
 */
export async function auditEventStream(
  databaseUrl: string,
  nc: NatsConnection,
  since: Date,
): Promise<EventStreamAudit> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  let order: Map<string, number>;
  try {
    const { rows } = await pg.query<{ event_id: string }>(
      'SELECT event_id FROM events ORDER BY transaction_id, global_position',
    );
    order = new Map(rows.map((r, i) => [r.event_id, i]));
  } finally {
    await pg.end();
  }
  const seen = new Map<string, number>();
  let duplicates = 0;
  let outOfOrder = 0;
  let last = -1;
  for await (const eventId of streamEventIds(nc, since)) {
    const index = order.get(eventId);
    if (index === undefined) continue; // another database's event
    const times = (seen.get(eventId) ?? 0) + 1;
    seen.set(eventId, times);
    if (times > 1) {
      duplicates++;
      continue;
    }
    if (index < last) outOfOrder++;
    last = Math.max(last, index);
  }
  const missingIds = [...order.keys()].filter((id) => !seen.has(id));
  return {
    inPostgres: order.size,
    missing: missingIds.length,
    duplicates,
    outOfOrder,
    missingSample: missingIds.slice(0, 5),
  };
}

/** The event ID of every message on the events stream since `since`, in stream order. */
async function* streamEventIds(nc: NatsConnection, since: Date): AsyncGenerator<string> {
  const consumer = await nc.jetstream().consumers.get(EVENTS_STREAM, {
    filterSubjects: EVENTS_SUBJECTS,
    opt_start_time: since.toISOString(),
  });
  try {
    let pending = (await consumer.info()).num_pending;
    while (pending > 0) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 5000 });
      let got = 0;
      for await (const msg of batch) {
        got++;
        yield msg.json<{ eventId: string }>().eventId;
        pending = msg.info.pending;
      }
      if (!got) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}
