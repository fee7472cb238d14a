import { NatsConnection } from 'nats';
import { EVENTS_STREAM, nodeEventsFilter, PublishedEvent } from '@plexus/bus';

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
