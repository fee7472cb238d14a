import { JetStreamClient, KV, NatsConnection } from 'nats';
import { NodeDocument, RecordedEvent } from '@plexus/domain';
import { AckedPublisher } from './acked-publisher';
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
  private readonly acked: AckedPublisher;

  constructor(
    private readonly nc: NatsConnection,
    private readonly ackTimeoutMs = 5000,
  ) {
    this.js = nc.jetstream();
    this.acked = new AckedPublisher(nc);
  }

  private async nodesBucket(): Promise<KV> {
    this.kv ??= await this.js.views.kv(NODES_BUCKET);
    return this.kv;
  }

  async publish(events: PublishedEvent[], documents: NodeDocument[]): Promise<void> {
    await this.nodesBucket(); // created with its options if missing (the puts below need it)
    const desired = desiredProcessesFromEvents(events);
    if (desired.length) this.scalingKv ??= await openScalingBucket(this.nc);
    await Promise.all([
      this.acked.publishAll(
        [
          ...events.map((e) => ({
            subject: eventSubject(e.nodeId, e.type),
            data: encoder.encode(JSON.stringify(e)),
            msgId: e.eventId,
          })),
          // Sent together with the events: a worker that sees a document before its events is
          // fine. A KV put is a publish to the bucket's subject for the key.
          ...documents.map((d) => ({
            subject: `$KV.${NODES_BUCKET}.${nodeDocumentKey(d.nodeId)}`,
            data: encoder.encode(JSON.stringify(d)),
          })),
        ],
        this.ackTimeoutMs,
      ),
      ...desired.map((d) => putDesiredProcesses(this.scalingKv!, d)),
    ]);
  }
}
