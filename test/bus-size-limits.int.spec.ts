import { randomUUID } from 'node:crypto';
import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { connect, NatsConnection } from 'nats';
import { Client } from 'pg';
import { firstValueFrom, timeout } from 'rxjs';
import { NODES_BUCKET, SeedNodeReply, SeedNodeRequest, seedNodeSubject } from '@plexus/bus';
import { NodeDocument } from '@plexus/domain';
import { appendNodeWrite, Database } from '@plexus/event-store';
import { createTestDatabase } from './support/databases';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { eventsOnStream } from './support/event-stream';
import { OwnNatsServer } from './support/nats-server';
import { waitFor } from './support/ports';

jest.setTimeout(60_000);

/**
 * Size limits on a NATS server whose max_payload is 64 KiB: the bus limit is that less the
 * headroom for headers and subject (8 KiB), 57344 bytes. Count limits are lowered too, so that
 * small requests reach them.
 */
const MAX_PAYLOAD = 65536;
const BUS_LIMIT = MAX_PAYLOAD - 8192;
const MAX_MODULES = 5;
const MAX_KEYS = 20;
const PATH = '/module-config/properties';

const text = (n: number, c = 'x') => c.repeat(n);
const file = (lines: string[]) => `${lines.join('\n')}\n`;

describe('size limits that keep the bus flowing (own NATS with max_payload 64 KiB)', () => {
  let nats: OwnNatsServer;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  let pg: Client;
  let nc: NatsConnection;
  let seeder: ClientProxy;

  const eventCount = async () =>
    Number((await pg.query(`SELECT count(*) AS n FROM events`)).rows[0].n);
  const importFile = (body: string) =>
    api.post(PATH, body, { 'content-type': 'text/plain; charset=utf-8' });
  const seed = (request: SeedNodeRequest) =>
    firstValueFrom(
      seeder
        .send<SeedNodeReply, SeedNodeRequest>(seedNodeSubject(request.nodeId), request)
        .pipe(timeout(10_000)),
    );
  const metric = async (name: string) => {
    const body = (await api.get('/metrics')).body as string;
    const line = body.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  beforeAll(async () => {
    nats = await OwnNatsServer.start(`max_payload: ${MAX_PAYLOAD}`);
    db = await createTestDatabase();
    cp = await startControlPlane({
      databaseUrl: db.url,
      natsUrl: nats.url,
      env: { NODE_MAX_MODULES: String(MAX_MODULES), NODE_MAX_KEYS: String(MAX_KEYS) },
    });
    api = cp.api;
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    nc = await connect({ servers: nats.url });
    seeder = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: { servers: [nats.url] },
    });
  });

  afterAll(async () => {
    await seeder?.close();
    await nc?.drain();
    await pg?.end();
    await cp?.close();
    await db?.drop();
    await nats?.dispose();
  });

  describe('JSON API', () => {
    it('refuses a write whose event would exceed the bus limit with 413, storing nothing', async () => {
      // given no events yet
      const before = await eventCount();
      // when a node is created with a property of 60,000 characters (within the 64 KiB per value)
      const res = await api.put('/nodes/big_event', { properties: { blob: text(60_000) } });
      // then it is refused with 413 naming the event, the node, the size and the limit
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
      expect(res.body.message).toContain('NodeCreated');
      expect(res.body.message).toContain('"big_event"');
      expect(res.body.message).toContain(`${BUS_LIMIT} bytes`);
      expect(res.body.message).toMatch(/6\d{4} bytes/);
      // and nothing is stored
      expect(await eventCount()).toBe(before);
      expect((await api.get('/nodes/big_event')).status).toBe(404);
    });

    it('refuses a write whose node document would exceed the bus limit, though each event fits', async () => {
      // given a node that grows by 25,000 characters per write, twice
      expect((await api.put('/nodes/grows', { properties: { a: text(25_000) } })).status).toBe(201);
      const second = await api.put('/nodes/grows', {
        properties: { a: text(25_000), b: text(25_000) },
      });
      expect(second.status).toBe(200);
      const before = await eventCount();
      // when a third write would make its document larger than the limit
      const third = await api.put('/nodes/grows', {
        properties: { a: text(25_000), b: text(25_000), c: text(25_000) },
      });
      // then it is refused naming the node's document, its size and the limit; nothing stored
      expect(third.status).toBe(413);
      expect(third.body.message).toContain('document of node "grows"');
      expect(third.body.message).toContain(`${BUS_LIMIT} bytes`);
      expect(await eventCount()).toBe(before);
      expect((await api.get('/nodes/grows')).body.version).toBe(2);
    });

    it('refuses more modules or keys than a node may have with 413 naming the variable', async () => {
      expect((await api.put('/nodes/counted', { properties: {} })).status).toBe(201);
      for (let i = 1; i <= MAX_MODULES; i++)
        expect(
          (
            await api.put(`/nodes/counted/modules/web${i}`, {
              type: 'http-endpoint',
              config: { port: String(8000 + i) },
            })
          ).status,
        ).toBe(201);
      const extra = await api.put('/nodes/counted/modules/web_extra', {
        type: 'http-endpoint',
        config: { port: '8100' },
      });
      expect(extra.status).toBe(413);
      expect(extra.body.message).toContain(`at most ${MAX_MODULES} modules`);
      expect(extra.body.message).toContain('NODE_MAX_MODULES');

      const keys = Object.fromEntries(
        Array.from({ length: MAX_KEYS + 1 }, (_, i) => [`k${i}`, 'v']),
      );
      const tooMany = await api.put('/nodes/counted', { properties: keys });
      expect(tooMany.status).toBe(413);
      expect(tooMany.body.message).toContain(`properties`);
      expect(tooMany.body.message).toContain(`at most ${MAX_KEYS} keys`);
      expect(tooMany.body.message).toContain('NODE_MAX_KEYS');
      expect((await api.get('/nodes/counted')).body.modules).toHaveLength(MAX_MODULES);
    });
  });

  describe('properties import', () => {
    it('refuses a file whose node would exceed the bus limit with 413, storing nothing', async () => {
      const before = await eventCount();
      const res = await importFile(
        file([
          'node.id=imported_big',
          'module.db.type=some-unknown-type',
          `module.db.config.a=${text(25_000)}`,
          `module.db.config.b=${text(25_000)}`,
          `module.db.config.c=${text(25_000)}`,
        ]),
      );
      expect(res.status).toBe(413);
      expect(res.body.message).toContain('"imported_big"');
      expect(res.body.message).toContain(`${BUS_LIMIT} bytes`);
      expect(await eventCount()).toBe(before);
    });

    it('refuses a value over 64 KiB with 400 naming the line, the key and the rule', async () => {
      const res = await importFile(
        file([
          'node.id=imported_value',
          'module.web.type=some-unknown-type',
          `module.web.config.blob=${text(70_000)}`,
        ]),
      );
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('line 3');
      expect(res.body.message).toContain('module.web.config.blob');
      expect(res.body.message).toContain('at most 65536 characters');
    });

    it('refuses a node with more modules than allowed with 413', async () => {
      const lines = ['node.id=imported_many'];
      for (let i = 0; i <= MAX_MODULES; i++) lines.push(`module.m${i}.type=some-unknown-type`);
      const res = await importFile(file(lines));
      expect(res.status).toBe(413);
      expect(res.body.message).toContain('NODE_MAX_MODULES');
      expect((await api.get('/nodes/imported_many')).status).toBe(404);
    });
  });

  describe("a worker's first-start request", () => {
    it('is refused with 413 when the node would exceed the bus limit, and 400 for a long key', async () => {
      const big = await seed({
        nodeId: 'seeded_big',
        processId: randomUUID(),
        properties: {
          'node.id': 'seeded_big',
          'module.db.type': 'some-unknown-type',
          'module.db.config.a': text(20_000),
          'module.db.config.b': text(20_000),
          'module.db.config.c': text(20_000),
        },
      });
      expect(big).toMatchObject({ ok: false, statusCode: 413 });
      expect((big as { message: string }).message).toContain(`${BUS_LIMIT} bytes`);

      const longKey = await seed({
        nodeId: 'seeded_key',
        processId: randomUUID(),
        properties: { [`module.db.config.${text(300, 'k')}`]: 'v', 'module.db.type': 't' },
      });
      expect(longKey).toMatchObject({ ok: false, statusCode: 400 });
      expect((longKey as { message: string }).message).toContain('at most');
      expect((await api.get('/nodes/seeded_big')).status).toBe(404);
      expect((await api.get('/nodes/seeded_key')).status).toBe(404);
    });
  });

  describe('relay', () => {
    it('publishes an event stored under a larger limit as a stub, skips its document, and goes on', async () => {
      // given an event and a document larger than max_payload, stored directly (as if the
      // server's limit had been lowered after they were written)
      const store = await Database.open(db.url);
      const eventId = randomUUID();
      const document: NodeDocument = {
        nodeId: 'stored_big',
        version: 1,
        archived: false,
        properties: { blob: text(70_000) },
        modules: [],
      };
      try {
        await appendNodeWrite(store, {
          nodeId: 'stored_big',
          expectedVersion: 0,
          events: [
            {
              eventId,
              type: 'NodeCreated',
              data: { properties: document.properties },
              metadata: { actor: 'test', correlationId: randomUUID() },
            },
          ],
          document,
        });
      } finally {
        await store.close();
      }
      // when a later write to another node is made
      expect((await api.put('/nodes/after_big', { properties: { x: '1' } })).status).toBe(201);
      // then the later event reaches NATS (the relay did not stop at the oversized one)
      const later = await waitFor(
        'the later event on the stream',
        async () => (await eventsOnStream(nc, 'after_big')).length > 0,
        20_000,
        200,
      );
      expect(later).toBe(true);
      // and the oversized event is on the stream as a stub naming it
      const stubs = await eventsOnStream(nc, 'stored_big');
      expect(stubs).toEqual([
        expect.objectContaining({
          eventId,
          nodeId: 'stored_big',
          type: 'NodeCreated',
          version: 1,
          truncated: true,
        }),
      ]);
      expect(stubs[0]).toHaveProperty('position');
      expect(stubs[0]).toHaveProperty('recordedAt');
      expect(stubs[0]).not.toHaveProperty('data');
      // and the whole event is still there to read
      const full = await api.get(`/events/${eventId}`);
      expect(full.body.data.properties.blob).toHaveLength(70_000);
      // and its document was not put (workers keep their last one); both are counted
      const kv = await nc.jetstream().views.kv(NODES_BUCKET);
      expect(await kv.get('stored_big')).toBeNull();
      expect(JSON.parse((await kv.get('after_big'))!.string())).toMatchObject({
        nodeId: 'after_big',
      });
      expect(await metric('plexus_relay_oversized_events_total')).toBe(1);
      expect(await metric('plexus_relay_oversized_documents_total')).toBe(1);
    });
  });
});
