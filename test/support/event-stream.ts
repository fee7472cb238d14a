import { NatsConnection } from 'nats';
import { EVENTS_STREAM, nodeEventsFilter, PublishedEvent } from '@plexus/bus';

/** Every event of a node stored in the JetStream events stream, in stream order. */
export async function eventsOnStream(
  nc: NatsConnection,
  nodeId: string,
): Promise<PublishedEvent[]> {
  const consumer = await nc
    .jetstream()
    .consumers.get(EVENTS_STREAM, { filterSubjects: nodeEventsFilter(nodeId) });
  const out: PublishedEvent[] = [];
  try {
    let pending = (await consumer.info()).num_pending;
    while (pending > 0) {
      const msg = await consumer.next({ expires: 2000 });
      if (!msg) break;
      out.push(msg.json<PublishedEvent>());
      pending = msg.info.pending;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return out;
}
