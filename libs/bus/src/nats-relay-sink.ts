import { KV, NatsConnection } from 'nats';
import {
  NodeDocument,
  parseRecordedEvent,
  RecordedEvent,
  RecordedEventJson,
  recordedEventJson,
} from '@plexus/domain';
import {
  AckedPublisher,
  OutgoingMessage,
  PublishResult,
  WRONG_LAST_SEQUENCE,
} from './acked-publisher';
import { eventSubject, nodeDocumentKey, nodeDocumentSubject } from './names';
import { decodeNodeDocument, openNodesBucket } from './node-documents';
import {
  desiredProcessesFromEvents,
  DesiredProcesses,
  SCALING_TYPES,
  openScalingBucket,
  putDesiredProcessesIfNewer,
} from './scaling-bucket';

/**
 * An event on the events stream, as its consumers read it: the recorded event as the event store
 * keeps it. (The relay hands it to publish as a RecordedEventJson, whose payload and metadata
 * JSON text goes out as it is.)
 */
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
  position: string;
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
  /** Told of each event published as a stub and each document not put (too large), once sent. */
  onOversized?: (message: OversizedMessage) => void;
}

/** What this sink last knew of a key of the nodes bucket: its revision and the version in it. */
interface KnownEntry {
  revision: number;
  version: number;
  /** Stored by putCommitted: the relay need not put this version again. */
  direct?: boolean;
}

/** How long a direct put waits for its ack before the relay's put is left to do the job. */
const DIRECT_ACK_TIMEOUT_MS = 1000;

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
 * put again only if the stored one is older: a node's document in the bucket never goes back to
 * an older version, whoever writes, and the relay never puts a version the bucket holds already
 * (the writer's fast path may have put it first). Only a republish replaces the same version.
 *
 * No single message stops it: an event larger than the server's max_payload (written before the
 * limit was lowered) goes out as a TruncatedEvent under the same msg-id, and such a document is
 * not put (workers keep their last one); each is reported to `onOversized`.
 */
export class NatsRelaySink {
  private kv: KV | null = null;
  private scalingKv: KV | null = null;
  private readonly acked: AckedPublisher;
  private readonly known = new Map<string, KnownEntry>();
  private readonly encoded = new WeakMap<NodeDocument, Uint8Array>();
  private readonly ackTimeoutMs: number;
  /** putCommitted's puts still waiting for their ack, by key: a relay batch waits for them. */
  private readonly directPuts = new Map<string, Promise<void>>();

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

  /**
   * The fast path of a write: puts the document its writer has just committed at once, rather
   * than after the relay has read it back from Postgres. Fire and forget, and only when it cannot
   * do harm: the key's revision is known (the put is a compare-and-set on it, like every put of
   * this sink) and the document is newer than the version known to be stored. Whatever does not
   * happen here (an unknown key, a refused or lost put, NATS down) the relay still does: it reads
   * every committed document in order and puts it, unless this path stored that very version
   * (then the relay skips it, so workers do not get the same version twice).
   */
  putCommitted(committed: { document: NodeDocument; json?: string }[]): Promise<boolean[]> {
    const puts = committed.map(({ document: d, json }) => {
      const k = key(d);
      const known = this.known.get(k);
      if (!this.kv || !known || known.version >= d.version || this.directPuts.has(k)) return null;
      if (json !== undefined && !this.encoded.has(d)) this.encoded.set(d, encoder.encode(json));
      // too large: the relay skips and reports it
      return this.encode(d).length + HEADER_BYTES > this.maxPayload() ? null : d;
    });
    const sent = puts.filter((d): d is NodeDocument => d !== null);
    if (!sent.length) return Promise.resolve(puts.map(() => false));
    // One batch, so that the writes of one group commit leave in one socket write.
    const messages = sent.map((d) => this.documentMessage(d));
    const acked = this.acked
      .publishEach(messages, DIRECT_ACK_TIMEOUT_MS, this.options.guard)
      .then((results) =>
        results.map((result, i) => this.settleDirect(sent[i], messages[i], result)),
      )
      .catch(() => sent.map(() => false)) // not leader any more, or no ack: the relay's put follows
      .finally(() => sent.forEach((d) => this.directPuts.delete(key(d))));
    const settled = acked.then(() => undefined);
    sent.forEach((d) => this.directPuts.set(key(d), settled));
    return acked.then((stored) => puts.map((d) => (d ? stored[sent.indexOf(d)] : false)));
  }

  private settleDirect(d: NodeDocument, sent: OutgoingMessage, result: PublishResult): boolean {
    const k = key(d);
    if (!result.ok) {
      this.forgetRefused(d, sent);
      return false;
    }
    // A put the relay made meanwhile may have stored a newer version: keep the newest.
    if ((this.known.get(k)?.version ?? -1) < d.version)
      this.known.set(k, { revision: result.seq, version: d.version, direct: true });
    return true;
  }

  /**
   * Which of these nodes' documents the relay should read and hand to publish: those not known to
   * be stored at the version a batch's events brought them to, or a newer one (by putCommitted,
   * usually, or an earlier batch). A later version is the job of the batch that holds its events.
   * What putCommitted has in flight for them settles first.
   */
  async documentsWanted(latest: { nodeId: string; version: number }[]): Promise<string[]> {
    const direct = latest.flatMap((l) => this.directPuts.get(nodeDocumentKey(l.nodeId)) ?? []);
    if (direct.length) await Promise.all(direct);
    return latest
      .filter((l) => (this.known.get(nodeDocumentKey(l.nodeId))?.version ?? -1) < l.version)
      .map((l) => l.nodeId);
  }

  async publish(events: RecordedEventJson[], all: NodeDocument[]): Promise<void> {
    const kv = await this.nodesBucket(); // created with its options if missing (the puts below need it)
    const oversized: OversizedMessage[] = [];
    // What putCommitted has in flight for these keys settles first, so that the relay knows
    // whether its own put is still needed and names the revision that put left.
    const direct = all.flatMap((d) => this.directPuts.get(key(d)) ?? []);
    if (direct.length) await Promise.all(direct);
    // (a version the fast path stored is not even encoded)
    const documents = this.publishable(
      all.filter((d) => !this.storedDirectly(d)),
      oversized,
    );
    await this.learn(
      kv,
      documents.filter((d) => !this.known.has(nodeDocumentKey(d.nodeId))),
    );
    const desired = desiredProcessesFromEvents(
      events.filter((e) => SCALING_TYPES.has(e.type)).map(parseRecordedEvent),
    );
    // A version the bucket holds already (another put won the race) is not put again.
    const puts = documents.filter((d) => this.isNewer(d));
    const documentMessages = puts.map((d) => this.documentMessage(d));
    const [results] = await Promise.all([
      this.acked.publishEach(
        [
          ...events.map((e) => this.eventMessage(e, oversized)),
          // Sent together with the events: a worker that sees a document before its events is
          // fine. A KV put is a publish to the bucket's subject for the key.
          ...documentMessages,
        ],
        this.ackTimeoutMs,
        this.options.guard,
      ),
      desired.length ? this.putDesired(desired) : undefined,
    ]);
    const refusedEvent = results.slice(0, events.length).find((r) => !r.ok);
    if (refusedEvent && !refusedEvent.ok) throw new Error(refusedEvent.description);
    const conflicts = this.settleDocuments(puts, documentMessages, results.slice(events.length));
    if (conflicts.length) await this.putUntilSettled(conflicts, (d) => this.isNewer(d));
    oversized.forEach((o) => this.options.onOversized?.(o));
  }

  private maxPayload() {
    return this.nc.info?.max_payload ?? Infinity;
  }

  /** The event as published: itself, or a TruncatedEvent when it exceeds max_payload. */
  private eventMessage(e: RecordedEventJson, oversized: OversizedMessage[]): OutgoingMessage {
    let data = encoder.encode(recordedEventJson(e));
    const maxPayload = this.maxPayload();
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
    return { subject: eventSubject(e.nodeId, e.type), data, msgId: e.eventId };
  }

  /** The documents that fit in a message; the others are reported in `oversized`. */
  private publishable(documents: NodeDocument[], oversized: OversizedMessage[]) {
    const maxPayload = this.maxPayload();
    return documents.filter((d) => {
      const data = this.encode(d);
      if (data.length + HEADER_BYTES <= maxPayload) return true;
      oversized.push({ kind: 'document', nodeId: d.nodeId, bytes: data.length, maxPayload });
      return false;
    });
  }

  /** A document's JSON, encoded once however often it is measured and put. */
  private encode(d: NodeDocument): Uint8Array {
    let data = this.encoded.get(d);
    if (!data) this.encoded.set(d, (data = encoder.encode(JSON.stringify(d))));
    return data;
  }

  /**
   * Puts node documents into the nodes bucket, never replacing a newer version of a node with an
   * older one (compare-and-set, read again on conflict), but replacing the same version: what a
   * repair or a re-encryption uses to republish every current document.
   */
  putDocuments(all: NodeDocument[]): Promise<{ put: number; skipped: number }> {
    return this.putUntilSettled(all, (d) => this.isNotOlder(d));
  }

  /**
   * Puts each document `replaces` allows over what the key holds, reading the key again and
   * asking again whenever compare-and-set refuses a put.
   */
  private async putUntilSettled(
    all: NodeDocument[],
    replaces: (d: NodeDocument) => boolean,
  ): Promise<{ put: number; skipped: number }> {
    const kv = await this.nodesBucket();
    const oversized: OversizedMessage[] = [];
    const documents = this.publishable(all, oversized);
    oversized.forEach((o) => this.options.onOversized?.(o));
    let pending = documents;
    let put = 0;
    for (let round = 0; pending.length; round++) {
      if (round === MAX_DOCUMENT_ROUNDS)
        throw new Error(
          `node documents of ${pending.map((d) => d.nodeId).join(', ')} kept changing under this put`,
        );
      const unknown = round === 0 ? pending.filter((d) => !this.known.has(key(d))) : pending;
      await this.learn(kv, unknown);
      const puts = pending.filter(replaces);
      const messages = puts.map((d) => this.documentMessage(d));
      const results = await this.acked.publishEach(messages, this.ackTimeoutMs, this.options.guard);
      const conflicts = this.settleDocuments(puts, messages, results);
      put += puts.length - conflicts.length;
      pending = conflicts;
    }
    return { put, skipped: all.length - put };
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
      subject: nodeDocumentSubject(k),
      data: this.encode(d),
      expectedLastSubjectSequence: this.known.get(k)?.revision ?? 0,
    };
  }

  /** True when putCommitted stored this very version of the node (and nothing newer came since). */
  private storedDirectly(d: NodeDocument) {
    const known = this.known.get(key(d));
    return known?.direct === true && known.version === d.version;
  }

  /** False when the bucket is known to hold a newer version of the node than `d`. */
  private isNotOlder(d: NodeDocument) {
    return (this.known.get(key(d))?.version ?? -1) <= d.version;
  }

  /**
   * True when the bucket is not known to hold `d`'s version or a newer one. The relay puts only
   * these: workers get each version once.
   */
  private isNewer(d: NodeDocument) {
    return (this.known.get(key(d))?.version ?? -1) < d.version;
  }

  /** Records what was stored; returns the documents refused by compare-and-set, to read again. */
  private settleDocuments(
    documents: NodeDocument[],
    sent: OutgoingMessage[],
    results: PublishResult[],
  ): NodeDocument[] {
    const conflicts: NodeDocument[] = [];
    documents.forEach((d, i) => {
      const r = results[i];
      if (r.ok) this.known.set(key(d), { revision: r.seq, version: d.version });
      else if (r.errCode === WRONG_LAST_SEQUENCE) {
        this.forgetRefused(d, sent[i]);
        conflicts.push(d);
      } else throw new Error(r.description);
    });
    return conflicts;
  }

  /**
   * Compare-and-set refused `sent`, a put of `d`: the key is read again before its next put,
   * unless the put that won the race (the relay's or the fast path's, on this sink) has told the
   * key's revision meanwhile. Forgetting that would send the node's next puts through a read of
   * the key, and its next writes the slow way, through the relay.
   */
  private forgetRefused(d: NodeDocument, sent: OutgoingMessage) {
    const k = key(d);
    if (this.known.get(k)?.revision === sent.expectedLastSubjectSequence) this.known.delete(k);
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

function truncated(e: RecordedEventJson): TruncatedEvent {
  return {
    eventId: e.eventId,
    nodeId: e.nodeId,
    type: e.type,
    version: e.version,
    position: e.position,
    recordedAt: e.recordedAt,
    truncated: true,
  };
}
