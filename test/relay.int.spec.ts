import { randomBytes, randomUUID } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { ensureTopology, NatsRelaySink } from '@plexus/bus';
import { Client } from 'pg';
import { appendToStream, NewEvent, Relay, RelaySink } from '@plexus/event-store';
import { RecordedEventJson } from '@plexus/domain';
import { SHARED_POSTGRES } from './support/databases';
import { migratedTestDatabase } from './support/migrated-database';
import { eventsOnStream } from './support/event-stream';
import { waitFor } from './support/ports';

const newEvent = (n: number): NewEvent => ({
  eventId: randomUUID(),
  type: 'NodePropertiesChanged',
  data: { changes: [{ key: 'n', old: null, new: String(n) }] },
  metadata: { actor: 'test', correlationId: 'relay-test' },
});
const streamName = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

describe('relay (real Postgres and NATS)', () => {
  const store = migratedTestDatabase();
  let nc: NatsConnection;
  let natsSink: NatsRelaySink;

  beforeAll(async () => {
    nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
    await ensureTopology(nc);
    natsSink = new NatsRelaySink(nc);
  });

  afterAll(async () => {
    await nc?.close();
  });

  it('publishes an event whose transaction took a lower position but committed last, in position order', async () => {
    const [a, b] = [streamName('gap-a'), streamName('gap-b')];
    const seen: RecordedEventJson[] = [];
    const sink: RelaySink = {
      publish: async (events, documents) => {
        seen.push(...events);
        await natsSink.publish(events, documents);
      },
    };
    const relay = new Relay(store.db, sink, { name: `gap-${a}`, idlePollMs: 20 });
    relay.start();

    // T1 appends to A (takes the lower position) and stays open...
    let commitT1!: () => void;
    let t1Appended!: () => void;
    const appended = new Promise<void>((r) => (t1Appended = r));
    const t1 = store.db.transaction(async (sql) => {
      await appendToStream(sql, a, a, 0, [newEvent(1)]);
      t1Appended();
      await new Promise<void>((r) => (commitT1 = r));
    });
    await appended;
    // ...while T2 appends to B (higher position) and commits first.
    await store.db.transaction((sql) => appendToStream(sql, b, b, 0, [newEvent(2)]));

    // The relay must not move past B while A may still commit behind it (a fixed wait: that
    // nothing is relayed through it is what is tested).
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.filter((e) => e.streamId === a || e.streamId === b)).toEqual([]);

    commitT1();
    await t1;
    await waitFor(
      'both events relayed',
      async () => seen.filter((e) => e.streamId === a || e.streamId === b).length === 2,
    );
    await relay.stop();

    const mine = seen.filter((e) => e.streamId === a || e.streamId === b);
    expect(mine.map((e) => e.streamId)).toEqual([a, b]);
    expect(BigInt(mine[0].position) < BigInt(mine[1].position)).toBe(true);
    expect(await eventsOnStream(nc, a)).toHaveLength(1);
    expect(await eventsOnStream(nc, b)).toHaveLength(1);
  });

  it('after a crash between publishing and storing its cursor, a restarted relay publishes nothing twice and misses nothing', async () => {
    const nodes = [streamName('crash'), streamName('crash'), streamName('crash')];
    const written = new Map<string, string[]>();
    for (const node of nodes) {
      const events = Array.from({ length: 20 }, (_, i) => newEvent(i));
      await store.db.transaction((sql) => appendToStream(sql, node, node, 0, events.slice(0, 10)));
      await store.db.transaction((sql) => appendToStream(sql, node, node, 10, events.slice(10)));
      written.set(
        node,
        events.map((e) => e.eventId),
      );
    }

    // The first relay publishes a batch, then "crashes" before it can store its cursor.
    let batches = 0;
    const crashing: RelaySink = {
      publish: async (events, documents) => {
        await natsSink.publish(events, documents);
        if (++batches === 2)
          throw new Error('simulated crash after publish, before the cursor moved');
      },
    };
    const name = `crash-${nodes[0]}`;
    const first = new Relay(store.db, crashing, {
      name,
      batchSize: 7,
      idlePollMs: 20,
      retryMs: 10_000,
    });
    first.start();
    await waitFor('the crash', async () => batches >= 2);
    await first.stop();

    const restarted = new Relay(store.db, natsSink, { name, batchSize: 7, idlePollMs: 20 });
    restarted.start();
    await waitFor('all 60 events on the stream', async () => {
      const counts = await Promise.all(nodes.map((n) => eventsOnStream(nc, n)));
      return counts.every((c) => c.length >= 20);
    });
    await restarted.stop();

    for (const node of nodes) {
      const onStream = await eventsOnStream(nc, node);
      expect(onStream.map((e) => e.eventId)).toEqual(written.get(node));
      expect(onStream.map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
  });

  it('is not held back by a long transaction in another database of the same server', async () => {
    const node = streamName('other-db');
    const seen: RecordedEventJson[] = [];
    const relay = new Relay(
      store.db,
      { publish: async (events) => void seen.push(...events) },
      { name: `other-db-${node}`, idlePollMs: 20 },
    );
    const other = new Client({ connectionString: `${SHARED_POSTGRES}/postgres` });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()'); // holds a transaction ID, server-wide
      relay.start();
      await store.db.transaction((sql) => appendToStream(sql, node, node, 0, [newEvent(1)]));
      await waitFor('the event relayed while the other transaction is still open', async () =>
        seen.some((e) => e.streamId === node),
      );
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      await other.end();
      await relay.stop();
    }
  });
});
