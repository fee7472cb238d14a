import { KV, KvEntry, NatsConnection } from 'nats';
import type { NodeDocument } from '@plexus/domain';
import { nodeDocumentKey, NODES_BUCKET } from './names';
import { errorText, Logger, silentLogger } from '@plexus/common';
import { ResilientWatch, WatchedEntrySource } from './resilient-watch';
import { clusterReplicas } from './replicas';

/** Same options as ensureTopology (libs/bus/src/topology.ts) so either side may create it. */
export const NODES_BUCKET_OPTIONS = { history: 5 } as const;

/** Opens the node-document bucket, creating it when missing. */
export function openNodesBucket(nc: NatsConnection): Promise<KV> {
  return nc
    .jetstream()
    .views.kv(NODES_BUCKET, { ...NODES_BUCKET_OPTIONS, replicas: clusterReplicas(nc) });
}

/** Whether a parsed JSON value has the shape of a node document. */
export function isNodeDocument(value: unknown): value is NodeDocument {
  const doc = value as NodeDocument | null;
  return (
    !!doc &&
    typeof doc.nodeId === 'string' &&
    typeof doc.version === 'number' &&
    Array.isArray(doc.modules)
  );
}

/** Decodes a bucket entry: null for a delete/purge marker or an entry that is not a node document. */
export function decodeNodeDocument(entry: KvEntry | null): NodeDocument | null {
  if (!entry || entry.operation !== 'PUT') return null;
  const doc: unknown = JSON.parse(entry.string());
  if (!isNodeDocument(doc))
    throw new Error(`entry "${entry.key}" of ${NODES_BUCKET} is not a node document`);
  return doc;
}

/** The stored document of a node, or null when there is none. */
export async function readNodeDocument(kv: KV, nodeId: string): Promise<NodeDocument | null> {
  return decodeNodeDocument(await kv.get(nodeDocumentKey(nodeId)));
}

/** Stores a node's document (what the control plane's relay does after each commit). */
export function putNodeDocument(kv: KV, doc: NodeDocument): Promise<number> {
  return kv.put(nodeDocumentKey(doc.nodeId), JSON.stringify(doc));
}

export interface WatchNodeDocumentOptions {
  logger?: Logger;
  /** Deliver only documents newer than this version (default 0: any). */
  afterVersion?: number;
  /**
   * How often the key is read as a safety net besides the watch (default 5000 ms). The watch
   * delivers changes at once; the read only catches what a broken watch could miss.
   */
  pollIntervalMs?: number;
  /** First and longest wait before re-opening a failed watch (default 250 and 5000 ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface NodeDocumentWatch {
  /** Version of the newest document delivered so far (0 before the first). */
  readonly version: number;
  /** Resolves with the document stored when the watch first read the key (null when none). */
  readonly initial: Promise<NodeDocument | null>;
  stop(): Promise<void>;
}

/**
 * Watches a node's document in NODES_BUCKET and calls onDocument with every newer version, in
 * increasing version order (older or equal versions are dropped). Level-triggered and
 * self-healing (see ResilientWatch): the watch is re-opened whenever it ends or NATS reconnects,
 * each time delivering the stored document first, and the key is also read every pollIntervalMs,
 * so a NATS restart or a dropped consumer cannot leave the caller on an old document.
 */
export async function watchNodeDocument(
  nc: NatsConnection,
  nodeId: string,
  onDocument: (doc: NodeDocument) => void,
  options: WatchNodeDocumentOptions = {},
): Promise<NodeDocumentWatch> {
  const logger = options.logger ?? silentLogger;
  let delivered = options.afterVersion ?? 0;
  /** The document the watch last showed as stored (null: none, or deleted). */
  let stored: NodeDocument | null = null;
  let resolveInitial!: (doc: NodeDocument | null) => void;
  const initial = new Promise<NodeDocument | null>((resolve) => (resolveInitial = resolve));

  const deliver = (entry: KvEntry, via: WatchedEntrySource) => {
    let doc: NodeDocument | null;
    try {
      doc = decodeNodeDocument(entry);
    } catch (err) {
      logger.warn('ignoring a node document that cannot be read', {
        nodeId,
        via,
        error: errorText(err),
      });
      return;
    }
    if (!doc) {
      if (via === 'watch') {
        stored = null;
        logger.warn('node document was deleted from the bucket; keeping the last one', { nodeId });
      }
      return;
    }
    if (doc.nodeId !== nodeId) {
      logger.warn('ignoring a document of another node', { nodeId, found: doc.nodeId });
      return;
    }
    stored = doc;
    if (doc.version > delivered) {
      delivered = doc.version;
      try {
        onDocument(doc);
      } catch (err) {
        logger.error('node document handler failed', {
          nodeId,
          version: doc.version,
          error: errorText(err),
        });
      }
    }
  };

  const watch = ResilientWatch.start(nc, {
    bucket: () => openNodesBucket(nc),
    key: nodeDocumentKey(nodeId),
    onEntry: deliver,
    onCurrent: () => resolveInitial(stored),
    readIntervalMs: options.pollIntervalMs ?? 5000,
    retryMinMs: options.retryMinMs,
    retryMaxMs: options.retryMaxMs,
    logger,
    logFields: { nodeId, watching: 'node document' },
  });

  return {
    get version() {
      return delivered;
    },
    initial,
    async stop() {
      await watch.stop();
      resolveInitial(null);
    },
  };
}
