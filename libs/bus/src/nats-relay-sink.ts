import { JetStreamClient, KV, NatsConnection } from 'nats';
import { NodeDocument, RecordedEvent } from '@plexus/domain';
import { eventSubject, nodeDocumentKey, NODES_BUCKET } from './names';
import {
  desiredProcessesFromEvents,
  openScalingBucket,
  putDesiredProcesses,
} from './scaling-bucket';

/** An event on the events stream: the recorded event as the event store keeps it. */
export type PublishedEvent = RecordedEvent;

const encoder = new TextEncoder();

/**
 * Publishes a relay batch: every event to the events stream (msg-id = event ID, so a re-publish
 * after a crash is dropped by JetStream's dedup), and the latest document of every node touched to
 * the nodes KV bucket. All publishes of a batch are in flight at once on one connection, which
 * JetStream stores in the order sent; it resolves only when every one is acknowledged. The process
 * count a node's last scaling event in the batch sets goes to the scaling bucket (for supervisors).
 */
export class NatsRelaySink {
  private readonly js: JetStreamClient;
  private kv: KV | null = null;
  private scalingKv: KV | null = null;

  constructor(private readonly nc: NatsConnection) {
    this.js = nc.jetstream();
  }

  private async nodesBucket(): Promise<KV> {
    this.kv ??= await this.js.views.kv(NODES_BUCKET);
    return this.kv;
  }

  async publish(events: PublishedEvent[], documents: NodeDocument[]): Promise<void> {
    const kv = await this.nodesBucket();
    const desired = desiredProcessesFromEvents(events);
    if (desired.length) this.scalingKv ??= await openScalingBucket(this.nc);
    await Promise.all([
      ...events.map((e) =>
        this.js.publish(eventSubject(e.nodeId, e.type), encoder.encode(JSON.stringify(e)), {
          msgID: e.eventId,
        }),
      ),
      // Sent together with the events: a worker that sees a document before its events is fine.
      ...documents.map((d) => kv.put(nodeDocumentKey(d.nodeId), encoder.encode(JSON.stringify(d)))),
      ...desired.map((d) => putDesiredProcesses(this.scalingKv!, d)),
    ]);
  }
}
