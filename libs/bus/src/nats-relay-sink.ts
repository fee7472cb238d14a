import { KV, NatsConnection } from 'nats';
import { NodeDocument, RecordedEvent } from '@plexus/domain';
import { AckedPublisher, OutgoingMessage, WRONG_LAST_SEQUENCE } from './acked-publisher';
import { eventSubject, nodeDocumentKey, NODES_BUCKET } from './names';
import { decodeNodeDocument, openNodesBucket } from './node-documents';
import {
  desiredProcessesFromEvents,
  DesiredProcesses,
  openScalingBucket,
  putDesiredProcessesIfNewer,
} from './scaling-bucket';

/** An event on the events stream: the recorded event as the event store keeps it. */
export type PublishedEvent = RecordedEvent;

const encoder = new TextEncoder();

/** Compare-and-set rounds for one document before the batch fails (and is retried whole). */
const MAX_DOCUMENT_ROUNDS = 5;

export interface NatsRelaySinkOptions {
  ackTimeoutMs?: number;
  /**
   * Runs before each message is handed to the client; throwing stops the batch there. The relay
   * leader checks that its lease is still valid on its own clock, so that a process resumed after
   * a freeze publishes nothing more.
   */
  guard?: () => void;
}

/** What this sink last knew of a key of the nodes bucket: its revision and the version in it. */
interface KnownEntry {
  revision: number;
  version: number;
}

/**
 * Publishes a relay batch: every event to the events stream (msg-id = event ID, so a re-publish
 * after a crash is dropped by JetStream's dedup), and the latest document of every node touched to
 * the nodes KV bucket. All publishes of a batch are in flight at once on one connection, which
 * JetStream stores in the order sent; it resolves only when every one is acknowledged. The process
 * count a node's last scaling event in the batch sets goes to the scaling bucket (for supervisors).
 *
 * Documents are put with compare-and-set (Nats-Expected-Last-Subject-Sequence = the revision this
 * sink last wrote or read), so a put prepared by a leader that has since lost its lease (a
 * publish flushed after a freeze) cannot replace what the next leader wrote: it names a revision
 * that is no longer the last. When a put is refused the key is read again, and the document is
 * put again only if the stored one is not newer: a node's document in the bucket never goes back
 * to an older version, whoever writes.
 */
export class NatsRelaySink {
  private kv: KV | null = null;
  private scalingKv: KV | null = null;
  private readonly acked: AckedPublisher;
  private readonly known = new Map<string, KnownEntry>();
  private readonly ackTimeoutMs: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsRelaySinkOptions = {},
  ) {
    this.acked = new AckedPublisher(nc);
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  }

  /**
   * Forgets every revision learnt: after a takeover or a repaired NATS, each key's revision is
   * read again before its next put.
   */
  forgetRevisions() {
    this.known.clear();
    this.kv = null;
    this.scalingKv = null;
  }

  private async nodesBucket(): Promise<KV> {
    this.kv ??= await openNodesBucket(this.nc);
    return this.kv;
  }

  async publish(events: PublishedEvent[], documents: NodeDocument[]): Promise<void> {
    const kv = await this.nodesBucket(); // created with its options if missing (the puts below need it)
    await this.learn(
      kv,
      documents.filter((d) => !this.known.has(nodeDocumentKey(d.nodeId))),
    );
    const desired = desiredProcessesFromEvents(events);
    const puts = documents.filter((d) => this.isNotOlder(d));
    const [results] = await Promise.all([
      this.acked.publishEach(
        [
          ...events.map((e) => ({
            subject: eventSubject(e.nodeId, e.type),
            data: encoder.encode(JSON.stringify(e)),
            msgId: e.eventId,
          })),
          // Sent together with the events: a worker that sees a document before its events is
          // fine. A KV put is a publish to the bucket's subject for the key.
          ...puts.map((d) => this.documentMessage(d)),
        ],
        this.ackTimeoutMs,
        this.options.guard,
      ),
      desired.length ? this.putDesired(desired) : undefined,
    ]);
    const refusedEvent = results.slice(0, events.length).find((r) => !r.ok);
    if (refusedEvent && !refusedEvent.ok) throw new Error(refusedEvent.description);
    const conflicts = this.settleDocuments(puts, results.slice(events.length));
    if (conflicts.length) await this.putDocuments(conflicts);
  }

  /**
   * Puts node documents into the nodes bucket, never replacing a newer version of a node with an
   * older one (compare-and-set, read again on conflict). What the relay does for each batch, and
   * what a repair or a re-encryption uses to republish every current document.
   */
  async putDocuments(documents: NodeDocument[]): Promise<{ put: number; skipped: number }> {
    const kv = await this.nodesBucket();
    let pending = documents;
    let put = 0;
    for (let round = 0; pending.length; round++) {
      if (round === MAX_DOCUMENT_ROUNDS)
        throw new Error(
          `node documents of ${pending.map((d) => d.nodeId).join(', ')} kept changing under this put`,
        );
      const unknown = round === 0 ? pending.filter((d) => !this.known.has(key(d))) : pending;
      await this.learn(kv, unknown);
      const puts = pending.filter((d) => this.isNotOlder(d));
      const results = await this.acked.publishEach(
        puts.map((d) => this.documentMessage(d)),
        this.ackTimeoutMs,
        this.options.guard,
      );
      const conflicts = this.settleDocuments(puts, results);
      put += puts.length - conflicts.length;
      pending = conflicts;
    }
    return { put, skipped: documents.length - put };
  }

  /** Puts each node's desired process count unless the bucket holds a newer one. */
  async putDesired(desired: DesiredProcesses[]): Promise<void> {
    this.scalingKv ??= await openScalingBucket(this.nc);
    for (const d of desired) {
      this.options.guard?.();
      await putDesiredProcessesIfNewer(this.scalingKv, d);
    }
  }

  private documentMessage(d: NodeDocument): OutgoingMessage {
    const k = key(d);
    return {
      subject: `$KV.${NODES_BUCKET}.${k}`,
      data: encoder.encode(JSON.stringify(d)),
      expectedLastSubjectSequence: this.known.get(k)?.revision ?? 0,
    };
  }

  /** False when the bucket is known to hold a newer version of the node than `d`. */
  private isNotOlder(d: NodeDocument) {
    return (this.known.get(key(d))?.version ?? -1) <= d.version;
  }

  /** Records what was stored; returns the documents refused by compare-and-set, to read again. */
  private settleDocuments(
    documents: NodeDocument[],
    results: Awaited<ReturnType<AckedPublisher['publishEach']>>,
  ): NodeDocument[] {
    const conflicts: NodeDocument[] = [];
    documents.forEach((d, i) => {
      const r = results[i];
      if (r.ok) this.known.set(key(d), { revision: r.seq, version: d.version });
      else if (r.errCode === WRONG_LAST_SEQUENCE) {
        this.known.delete(key(d));
        conflicts.push(d);
      } else throw new Error(r.description);
    });
    return conflicts;
  }

  /** Reads the current revision (and version) of each document's key. */
  private async learn(kv: KV, documents: NodeDocument[]) {
    await Promise.all(
      documents.map(async (d) => {
        const k = key(d);
        const entry = await kv.get(k);
        let version = -1;
        try {
          version = decodeNodeDocument(entry)?.version ?? -1;
        } catch {
          // not a node document: replace it
        }
        this.known.set(k, { revision: entry?.revision ?? 0, version });
      }),
    );
  }
}

const key = (d: NodeDocument) => nodeDocumentKey(d.nodeId);
