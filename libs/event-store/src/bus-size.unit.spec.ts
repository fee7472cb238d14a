import { DomainError, NodeDocument } from '@plexus/domain';
import { checkBusSize, limitedNodeWrite, NO_WRITE_LIMITS } from './bus-size';
import { NewEvent } from './stored-event';

const doc = (blob: string): NodeDocument => ({
  nodeId: 'n1',
  version: 1,
  archived: false,
  properties: { blob },
  modules: [],
});
const event = (blob: string): NewEvent => ({
  eventId: '0b6f7a8e-3c1d-4c1e-9a55-6d3f2b1e0c9a',
  type: 'NodeCreated',
  data: { properties: { blob } },
  metadata: { actor: 'admin', correlationId: 'c1' },
});

/** The event as the relay publishes it, at the widest the recorded fields can be. */
const published = (e: NewEvent, nodeId = 'n1') =>
  Buffer.byteLength(
    JSON.stringify({
      eventId: e.eventId,
      nodeId,
      streamId: nodeId,
      version: 2147483647,
      position: '9223372036854775807',
      type: e.type,
      data: e.data,
      metadata: e.metadata,
      recordedAt: new Date().toISOString(),
    }),
  );

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('checkBusSize', () => {
  it('refuses an event whose recorded form is one byte over the limit, naming it', () => {
    const e = event('x'.repeat(1000));
    const size = published(e);
    expect(() =>
      checkBusSize({ nodeId: 'n1', expectedVersion: 0, events: [e], document: doc('') }, size),
    ).not.toThrow();
    const err = refusal(() =>
      checkBusSize({ nodeId: 'n1', expectedVersion: 0, events: [e], document: doc('') }, size - 1),
    );
    expect(err.kind).toBe('too-large');
    expect(err.message).toBe(
      `event NodeCreated of node "n1" would be ${size} bytes on the bus, more than the bus limit of ${size - 1} bytes (the NATS server's max_payload less headroom for headers)`,
    );
  });

  it('counts bytes, not characters', () => {
    const e = event('é'.repeat(1000)); // two bytes each in UTF-8
    expect(() =>
      checkBusSize({ nodeId: 'n1', expectedVersion: 0, events: [e], document: doc('') }, 1500),
    ).toThrow(/would be \d{4} bytes/);
  });

  it('refuses a document over the limit, measured on the JSON the write stores', () => {
    const write = limitedNodeWrite(null, doc('x'.repeat(500)), [], NO_WRITE_LIMITS);
    expect(write.documentJson).toBe(JSON.stringify(write.document));
    const size = Buffer.byteLength(write.documentJson!);
    expect(() => checkBusSize(write, size)).not.toThrow();
    expect(refusal(() => checkBusSize(write, size - 1)).message).toContain(
      `the document of node "n1" would be ${size} bytes, more than the bus limit of ${size - 1} bytes`,
    );
  });
});
