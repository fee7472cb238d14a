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

/**
 * What goes on the events stream in place of an event too large to publish: enough to read the
 * whole event from the admin API (GET /events/:eventId).
 */
export interface TruncatedEvent {
  eventId: string;
  nodeId: string;
  type: string;
  version: number;
  globalPosition: string;
  recordedAt: string;
  truncated: true;
}

/** An event published as a stub, or a node document not put, because it exceeds max_payload. */
export interface OversizedMessage {
  kind: 'event' | 'document';
  nodeId: string;
  /** For an event: its ID and type. */
  eventId?: string;
  type?: string;
  /** Its JSON's size, and the server's max_payload it exceeds (with the headers). */
  bytes: number;
  maxPayload: number;
}

const encoder = new TextEncoder();
/** Room for what a message carries besides its JSON: the Nats-Msg-Id header and its framing. */
const HEADER_BYTES = 256;

/**
 * Publishes a relay batch: every event to the events stream (msg-id = event ID, so a re-publish
 * after a crash is dropped by JetStream's dedup), and the latest document of every node touched to
 * the nodes KV bucket. All publishes of a batch are in flight at once on one connection, which
 * JetStream stores in the order sent; it resolves only when every one is acknowledged. The process
 * count a node's last scaling event in the batch sets goes to the scaling bucket (for supervisors).
 *
 * No single message stops it: an event larger than the server's max_payload (written before the
 * limit was lowered) goes out as a TruncatedEvent under the same msg-id, and such a document is
 * not put (workers keep their last one); each is reported to `onOversized` once published.
 */
export class NatsRelaySink {
  private readonly js: JetStreamClient;
  private kv: KV | null = null;
  private scalingKv: KV | null = null;
  private readonly acked: AckedPublisher;

  constructor(
    private readonly nc: NatsConnection,
    private readonly ackTimeoutMs = 5000,
    private readonly onOversized: (message: OversizedMessage) => void = () => undefined,
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
    const maxPayload = this.nc.info?.max_payload ?? Infinity;
    const oversized: OversizedMessage[] = [];
    const messages: { subject: string; data: Uint8Array; msgId?: string }[] = [];
    for (const e of events) {
      let data = encoder.encode(JSON.stringify(e));
      if (data.length + HEADER_BYTES > maxPayload) {
        oversized.push({
          kind: 'event',
          nodeId: e.nodeId,
          eventId: e.eventId,
          type: e.type,
          bytes: data.length,
          maxPayload,
        });
        data = encoder.encode(JSON.stringify(truncated(e)));
      }
      messages.push({ subject: eventSubject(e.nodeId, e.type), data, msgId: e.eventId });
    }
    // Sent together with the events: a worker that sees a document before its events is fine.
    // A KV put is a publish to the bucket's subject for the key.
    for (const d of documents) {
      const data = encoder.encode(JSON.stringify(d));
      if (data.length + HEADER_BYTES > maxPayload) {
        oversized.push({ kind: 'document', nodeId: d.nodeId, bytes: data.length, maxPayload });
        continue;
      }
      messages.push({ subject: `$KV.${NODES_BUCKET}.${nodeDocumentKey(d.nodeId)}`, data });
    }
    await Promise.all([
      this.acked.publishAll(messages, this.ackTimeoutMs),
      ...desired.map((d) => putDesiredProcesses(this.scalingKv!, d)),
    ]);
    oversized.forEach((o) => this.onOversized(o));
  }
}

function truncated(e: PublishedEvent): TruncatedEvent {
  return {
    eventId: e.eventId,
    nodeId: e.nodeId,
    type: e.type,
    version: e.version,
    globalPosition: e.position,
    recordedAt: e.recordedAt,
    truncated: true,
  };
}
