import { KV, KvEntry, NatsConnection, QueuedIterator, Status } from 'nats';
import type { NodeDocument } from '@plexus/domain';
import { nodeDocumentKey, NODES_BUCKET } from './names';
import { errorText, Logger, silentLogger, sleep } from '@plexus/common';

/** Same options as ensureTopology (libs/bus/src/topology.ts) so either side may create it. */
export const NODES_BUCKET_OPTIONS = { history: 5 } as const;

/** Opens the node-document bucket, creating it when missing. */
export function openNodesBucket(nc: NatsConnection): Promise<KV> {
  return nc.jetstream().views.kv(NODES_BUCKET, NODES_BUCKET_OPTIONS);
}

/** Decodes a bucket entry: null for a delete/purge marker or an entry that is not a node document. */
export function decodeNodeDocument(entry: KvEntry | null): NodeDocument | null {
  if (!entry || entry.operation !== 'PUT') return null;
  const doc = JSON.parse(entry.string()) as NodeDocument;
  if (
    !doc ||
    typeof doc.nodeId !== 'string' ||
    typeof doc.version !== 'number' ||
    !Array.isArray(doc.modules)
  )
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
 * self-healing: the KV watch (an ordered consumer) is re-opened whenever it ends or NATS
 * reconnects, and the key is also read after every reconnect and every pollIntervalMs, so a
 * NATS restart or a dropped consumer cannot leave the caller on an old document.
 */
export async function watchNodeDocument(
  nc: NatsConnection,
  nodeId: string,
  onDocument: (doc: NodeDocument) => void,
  options: WatchNodeDocumentOptions = {},
): Promise<NodeDocumentWatch> {
  const logger = options.logger ?? silentLogger;
  const key = nodeDocumentKey(nodeId);
  const retryMin = options.retryMinMs ?? 250;
  const retryMax = options.retryMaxMs ?? 5000;
  let delivered = options.afterVersion ?? 0;
  let stopped = false;
  let kv: KV | null = null;
  const watching: { iterator: QueuedIterator<KvEntry> | null } = { iterator: null };

  const bucket = async () => (kv ??= await openNodesBucket(nc));

  const deliver = (entry: KvEntry | null, via: string): NodeDocument | null => {
    let doc: NodeDocument | null;
    try {
      doc = decodeNodeDocument(entry);
    } catch (err) {
      logger.warn('ignoring a node document that cannot be read', {
        nodeId,
        via,
        error: errorText(err),
      });
      return null;
    }
    if (!doc) {
      if (entry && via === 'watch')
        logger.warn('node document was deleted from the bucket; keeping the last one', { nodeId });
      return null;
    }
    if (doc.nodeId !== nodeId) {
      logger.warn('ignoring a document of another node', { nodeId, found: doc.nodeId });
      return null;
    }
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
    return doc;
  };

  /** Reads the key once; undefined when the read failed (NATS or JetStream unavailable). */
  const read = async (via: string): Promise<NodeDocument | null | undefined> => {
    try {
      return deliver(await (await bucket()).get(key), via);
    } catch (err) {
      if (!stopped)
        logger.warn('reading the node document failed', { nodeId, via, error: errorText(err) });
      return undefined;
    }
  };

  const watchLoop = async () => {
    let delay = retryMin;
    while (!stopped) {
      try {
        const it = await (await bucket()).watch({ key });
        watching.iterator = it;
        if (stopped) it.stop();
        delay = retryMin;
        for await (const entry of it) deliver(entry, 'watch');
        if (!stopped) logger.log('node document watch ended; re-opening it', { nodeId });
      } catch (err) {
        if (!stopped)
          logger.warn('watching the node document failed; retrying', {
            nodeId,
            retryInMs: delay,
            error: errorText(err),
          });
      }
      watching.iterator = null;
      if (stopped) break;
      await sleep(delay);
      delay = Math.min(delay * 2, retryMax);
    }
  };

  // After a reconnect the server may have restarted and lost the ordered consumer behind the
  // watch: re-open the watch and read the key directly.
  const statusIterator = nc.status();
  const statusLoop = (async () => {
    for await (const s of statusIterator) {
      if (stopped) break;
      if (s.type !== 'reconnect') continue;
      logger.log('NATS reconnected; re-reading the node document', { nodeId });
      watching.iterator?.stop();
      for (let i = 0; i < 5 && !stopped; i++) {
        if ((await read('reconnect')) !== undefined) break;
        await sleep(retryMin * 2 ** i);
      }
    }
  })().catch(() => undefined);

  const poll = setInterval(() => {
    if (!stopped && !nc.isClosed()) void read('poll');
  }, options.pollIntervalMs ?? 5000);
  poll.unref();

  const initial = (async () => {
    for (let delay = retryMin; !stopped; delay = Math.min(delay * 2, retryMax)) {
      const doc = await read('initial');
      if (doc !== undefined) return doc;
      await sleep(delay);
    }
    return null;
  })();
  const loop = watchLoop();

  return {
    get version() {
      return delivered;
    },
    initial,
    async stop() {
      stopped = true;
      clearInterval(poll);
      watching.iterator?.stop();
      // nats.js returns a QueuedIterator here, typed as a plain AsyncIterable.
      (statusIterator as Partial<QueuedIterator<Status>>).stop?.();
      await Promise.race([Promise.all([loop, statusLoop]), sleep(1000)]);
    },
  };
}
