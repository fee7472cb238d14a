import { randomBytes, randomUUID } from 'node:crypto';
import { KV, NatsConnection } from 'nats';
import { NodeDocument, RecordedEventJson } from '@plexus/domain';
import { connectNats, DEFAULT_NATS_URL } from './nats-connection';
import { NatsRelaySink } from './nats-relay-sink';
import { nodeDocumentKey, NODES_BUCKET } from './names';
import { openNodesBucket, readNodeDocument } from './node-documents';
import {
  openScalingBucket,
  putDesiredProcessesIfNewer,
  readDesiredProcesses,
} from './scaling-bucket';
import { ensureTopology } from './topology';

const doc = (nodeId: string, version: number): NodeDocument => ({
  nodeId,
  version,
  archived: false,
  properties: { v: String(version) },
  modules: [],
});
const nodeId = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
const encoder = new TextEncoder();

describe('relay sink: node documents never go back to an older version (real NATS)', () => {
  let nc: NatsConnection;
  let kv: KV;

  beforeAll(async () => {
    nc = await connectNats(process.env.NATS_URL ?? DEFAULT_NATS_URL, 'sink-spec');
    await ensureTopology(nc);
    kv = await openNodesBucket(nc);
  });
  afterAll(async () => {
    await nc?.close();
  });

  it('a stale leader cannot replace what the next leader put, neither by its relay nor by a put flushed after a freeze', async () => {
    const id = nodeId('stale');
    const oldLeader = new NatsRelaySink(nc);
    const newLeader = new NatsRelaySink(nc);
    await oldLeader.publish([], [doc(id, 1)]);
    const before = await kv.get(nodeDocumentKey(id));

    // The next leader puts version 3; the old one, resumed, still has version 2 to put.
    await newLeader.publish([], [doc(id, 3)]);
    await oldLeader.publish([], [doc(id, 2)]);
    expect((await readNodeDocument(kv, id))?.version).toBe(3);

    // A put the old leader prepared before its freeze (naming the revision it knew) lands late.
    const late = kv.put(nodeDocumentKey(id), JSON.stringify(doc(id, 2)), {
      previousSeq: before!.revision,
    });
    await expect(late).rejects.toThrow(/wrong last sequence/);
    expect((await readNodeDocument(kv, id))?.version).toBe(3);

    // And whoever has a newer version still gets it in, after reading the key again.
    await oldLeader.publish([], [doc(id, 4)]);
    expect((await readNodeDocument(kv, id))?.version).toBe(4);
  });

  it('a committed document put at once reaches the bucket once, and never overtakes a newer one', async () => {
    const id = nodeId('direct');
    const sink = new NatsRelaySink(nc);
    const revision = async () => (await kv.get(nodeDocumentKey(id)))?.revision;
    // A key the sink has not put or read yet is left to the relay.
    expect(await sink.putCommitted([{ document: doc(id, 1) }])).toEqual([false]);
    expect(await kv.get(nodeDocumentKey(id))).toBeNull();
    await sink.publish([], [doc(id, 1)]);

    // The writer's put lands at once; the relay, reading the same version later, does not put it again.
    expect(
      await sink.putCommitted([{ document: doc(id, 2), json: JSON.stringify(doc(id, 2)) }]),
    ).toEqual([true]);
    expect((await readNodeDocument(kv, id))?.version).toBe(2);
    const afterDirect = await revision();
    await sink.publish([], [doc(id, 2)]);
    expect(await revision()).toBe(afterDirect);
    // nor does a repeat or an older version go in
    expect(await sink.putCommitted([{ document: doc(id, 2) }, { document: doc(id, 1) }])).toEqual([
      false,
      false,
    ]);
    expect(await revision()).toBe(afterDirect);

    // Another leader put version 5 meanwhile: the direct put of 4 is refused, and the relay,
    // reading the key again, leaves 5 there; its next version still goes in.
    await new NatsRelaySink(nc).putDocuments([doc(id, 5)]);
    expect(await sink.putCommitted([{ document: doc(id, 4) }])).toEqual([false]);
    await sink.publish([], [doc(id, 4)]);
    expect((await readNodeDocument(kv, id))?.version).toBe(5);
    await sink.publish([], [doc(id, 6)]);
    expect((await readNodeDocument(kv, id))?.version).toBe(6);
  });

  it('the relay does not put a version again that another put stored first (a fast path that won the race)', async () => {
    const id = nodeId('race');
    const relay = new NatsRelaySink(nc);
    await relay.publish([], [doc(id, 1)]);
    // The fast path's put of version 2 lands between the relay's decision to put 2 and its put,
    // which names the revision of version 1 and is refused.
    await new NatsRelaySink(nc).putDocuments([doc(id, 2)]);
    const stored = (await kv.get(nodeDocumentKey(id)))?.revision;
    await relay.publish([], [doc(id, 2)]);
    // a watcher (a worker) gets version 2 once
    expect((await kv.get(nodeDocumentKey(id)))?.revision).toBe(stored);
    // and the relay, knowing the key again, puts the next version
    await relay.publish([], [doc(id, 3)]);
    expect((await readNodeDocument(kv, id))?.version).toBe(3);
  });

  it('a fast-path put that lost the race to the relay leaves the revision the relay learnt, so the next one goes at once', async () => {
    const id = nodeId('lost');
    const sink = new NatsRelaySink(nc);
    await sink.publish([], [doc(id, 1)]);
    // Whether the refusal is handled before or after the relay's ack depends on how the acks
    // arrive, so the race is run ten times.
    for (let v = 2; v < 22; v += 2) {
      // The relay's put of version v leaves first; the writer's, naming the same revision, is refused.
      const relayed = sink.publish([], [doc(id, v)]);
      // microtasks only: the relay's put is sent, and its ack (I/O) cannot have come back yet
      for (let i = 0; i < 20; i++) await Promise.resolve();
      expect(await sink.putCommitted([{ document: doc(id, v) }])).toEqual([false]);
      await relayed;
      // The next write's fast path needs no relay to read the key first.
      expect(await sink.putCommitted([{ document: doc(id, v + 1) }])).toEqual([true]);
    }
    expect((await readNodeDocument(kv, id))?.version).toBe(21);
  });

  it('republishing puts documents that are missing or not older, and leaves newer ones alone', async () => {
    const [a, b, c] = [nodeId('rep'), nodeId('rep'), nodeId('rep')];
    const relay = new NatsRelaySink(nc);
    await relay.publish([], [doc(a, 5), doc(b, 2)]);
    const republisher = new NatsRelaySink(nc);
    const result = await republisher.putDocuments([doc(a, 4), doc(b, 2), doc(c, 1)]);
    expect(result).toEqual({ put: 2, skipped: 1 });
    expect((await readNodeDocument(kv, a))?.version).toBe(5);
    expect((await readNodeDocument(kv, b))?.version).toBe(2);
    expect((await readNodeDocument(kv, c))?.version).toBe(1);
    // the relay, whose revision of b is now stale, still puts b's next version
    await relay.publish([], [doc(b, 3)]);
    expect((await readNodeDocument(kv, b))?.version).toBe(3);
  });

  it('stops a batch where the guard says no: the messages after it are not sent', async () => {
    const id = nodeId('guard');
    let allowed = 1;
    const sink = new NatsRelaySink(nc, {
      guard: () => {
        if (allowed-- <= 0) throw new Error('lease lapsed');
      },
    });
    const event = (version: number): RecordedEventJson => ({
      eventId: randomUUID(),
      nodeId: id,
      streamId: id,
      version,
      position: String(version),
      type: 'NodePropertiesChanged',
      dataJson: '{}',
      metadataJson: '{"actor": "test", "correlationId": "guard"}',
      recordedAt: new Date().toISOString(),
    });
    await expect(sink.publish([event(1)], [doc(id, 1)])).rejects.toThrow('lease lapsed');
    expect(await readNodeDocument(kv, id)).toBeNull();
  });

  it('puts a desired process count only when no later event set one', async () => {
    const id = nodeId('desired');
    const scaling = await openScalingBucket(nc);
    const count = (desired: number, position: string) => ({
      nodeId: id,
      desired,
      eventId: randomUUID(),
      position,
      recordedAt: new Date().toISOString(),
    });
    expect(await putDesiredProcessesIfNewer(scaling, count(3, '100'))).toBe(true);
    expect(await putDesiredProcessesIfNewer(scaling, count(2, '90'))).toBe(false);
    expect((await readDesiredProcesses(scaling, id))?.desired).toBe(3);
    expect(await putDesiredProcessesIfNewer(scaling, count(4, '110'))).toBe(true);
    expect((await readDesiredProcesses(scaling, id))?.desired).toBe(4);
  });

  it('never replaces a newer document put by someone it did not hear of', async () => {
    const id = nodeId('raw');
    await nc
      .jetstream()
      .publish(
        `$KV.${NODES_BUCKET}.${nodeDocumentKey(id)}`,
        encoder.encode(JSON.stringify(doc(id, 7))),
      );
    const sink = new NatsRelaySink(nc);
    expect(await sink.putDocuments([doc(id, 6)])).toEqual({ put: 0, skipped: 1 });
    expect((await readNodeDocument(kv, id))?.version).toBe(7);
  });
});
