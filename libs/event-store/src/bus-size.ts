import {
  checkNodeCounts,
  NO_NODE_LIMITS,
  NodeDocument,
  NodeLimits,
  tooLarge,
} from '@plexus/domain';
import { NodeWrite } from './appendNodeWrites';
import { NewEvent } from './stored-event';

/** What a node write may be: the bus's size limit and the node limits. */
export interface WriteLimits {
  /**
   * The largest event or node document the relay can publish, in bytes of JSON: read when a
   * write is checked, so that it follows the NATS server the control plane is connected to.
   */
  busBytes(): number;
  node: NodeLimits;
}

export const NO_WRITE_LIMITS: WriteLimits = { busBytes: () => Infinity, node: NO_NODE_LIMITS };

/** UTF-8 bytes of a string: exact only when it could matter (a UTF-16 unit is at most 3 bytes). */
const bytesOver = (text: string, limit: number) =>
  text.length * 3 > limit && Buffer.byteLength(text, 'utf8') > limit;

/**
 * The fields the event store adds when it records an event, at their widest (stream version,
 * global position, time), around `data` and `metadata` as the relay publishes the event; the
 * node ID (twice: nodeId and streamId) and the type are added per event.
 */
const ENVELOPE_BYTES =
  JSON.stringify({
    eventId: '00000000-0000-0000-0000-000000000000',
    nodeId: '',
    streamId: '',
    version: 2147483647,
    position: '9223372036854775807',
    type: '',
    data: 0,
    metadata: 0,
    recordedAt: '2000-01-01T00:00:00.000Z',
  }).length - 2; // less the two 0 placeholders

/**
 * Refuses (413) a node write that the relay could not publish: an event (recorded, with its
 * metadata) or the node's resulting document larger than `limitBytes`. It measures the JSON the
 * write stores (`documentJson`, `dataJson`), so it must be given the write as it will be appended.
 */
export function checkBusSize(write: NodeWrite, limitBytes: number): void {
  if (!Number.isFinite(limitBytes)) return;
  const node = () => `node "${write.nodeId}"`;
  const limit = () =>
    `the bus limit of ${limitBytes} bytes (the NATS server's max_payload less headroom for headers)`;
  // A write's events share one metadata object: measure it once.
  let metadata: NewEvent['metadata'] | undefined;
  let metadataBytes = 0;
  for (const e of write.events) {
    if (e.metadata !== metadata) {
      metadata = e.metadata;
      metadataBytes = Buffer.byteLength(JSON.stringify(metadata));
    }
    const data = e.dataJson ?? JSON.stringify(e.data);
    // Node IDs and event types are US-ASCII without characters JSON escapes: a byte each.
    const fixed = ENVELOPE_BYTES + 2 * write.nodeId.length + e.type.length + metadataBytes;
    if (bytesOver(data, limitBytes - fixed)) {
      const size = fixed + Buffer.byteLength(data);
      throw tooLarge(
        `event ${e.type} of ${node()} would be ${size} bytes on the bus, more than ${limit()}`,
      );
    }
  }
  const document = write.documentJson ?? JSON.stringify(write.document);
  if (bytesOver(document, limitBytes))
    throw tooLarge(
      `the document of ${node()} would be ${Buffer.byteLength(document)} bytes, more than ${limit()}; remove modules or keys, or make values shorter`,
    );
}

/**
 * The write that takes a node from `current` to `next` with `events`: refused (413) when it would
 * leave the node with more modules or keys than allowed, or anything the relay could not publish.
 * The document is serialized here once; appendNodeWrites stores that same text.
 */
export function limitedNodeWrite(
  current: NodeDocument | null,
  next: NodeDocument,
  events: NewEvent[],
  limits: WriteLimits,
): NodeWrite {
  checkNodeCounts(current, next, limits.node);
  const write: NodeWrite = {
    nodeId: next.nodeId,
    expectedVersion: current?.version ?? 0,
    events,
    document: next,
    documentJson: JSON.stringify(next),
  };
  checkBusSize(write, limits.busBytes());
  return write;
}
