import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { appendToStream, Database, processStreamId, StoredEvent } from '@plexus/event-store';
import { DATABASE } from '../apps/control-plane/src/infra/injection-tokens';
import { EventsService } from '../apps/control-plane/src/events/events.service';
import { createTestDatabase } from './support/databases';
import { testSecretsCipher } from './support/secrets';
import {
  AdminApi,
  RunningControlPlane,
  startControlPlane,
  TEST_ADMIN_TOKEN,
} from './support/control-plane';
import { waitFor } from './support/ports';

const hex = () => randomBytes(4).toString('hex');
const web = (port: number, message: string) => ({
  type: 'http-endpoint',
  config: { port: String(port), message },
});
const FIELDS = [
  'eventId',
  'nodeId',
  'streamId',
  'version',
  'position',
  'type',
  'data',
  'metadata',
  'recordedAt',
];

describe('audit API: GET /events (real Postgres and NATS)', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  let db: Database;
  /** Every answer body as received, searched for the secrets at the end. */
  const answers: string[] = [];
  const secrets = [`first-${hex()}${hex()}`, `second-${hex()}${hex()}`, `other-${hex()}${hex()}`];
  const nodeA = `audit-a-${hex()}`;
  const nodeB = `audit-b-${hex()}`;
  const processId = randomUUID();
  let all: StoredEvent[];

  const get = async (path: string) => {
    const res = await api.get(path);
    answers.push(typeof res.body === 'string' ? res.body : JSON.stringify(res.body));
    return res;
  };
  const qs = (params: Record<string, string | string[]>) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params))
      for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
    return search.toString();
  };
  /** Follows `next` to the end; fails on a repeated event. */
  const walk = async (params: Record<string, string | string[]>, limit?: number) => {
    const events: StoredEvent[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const query = qs({
        ...params,
        ...(limit ? { limit: String(limit) } : {}),
        ...(after ? { after } : {}),
      });
      const res = await get(`/events?${query}`);
      expect(res.status).toBe(200);
      events.push(...res.body.events);
      after = res.body.next;
      pages++;
    } while (after);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    return { events, pages };
  };
  const ids = (events: StoredEvent[]) => events.map((e) => e.eventId);
  const write = async (
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => {
    const res = await api.request(method, path, body, headers);
    expect(res.status).toBeLessThan(300);
    return res;
  };
  const processEvent = (type: string, actor: string) => ({
    eventId: randomUUID(),
    type,
    data: { processId, nodeId: nodeA, host: 'host-1', pid: 42, portOffset: 0 },
    metadata: { actor, correlationId: processId },
  });

  beforeAll(async () => {
    testDb = await createTestDatabase();
    cp = await startControlPlane({ databaseUrl: testDb.url });
    api = cp.api;
    db = await Database.open(testDb.url, { poolSize: 4 });
    await write(
      'PUT',
      `/nodes/${nodeA}`,
      { properties: { region: 'eu', db_password: secrets[0] } },
      { 'x-correlation-id': 'corr-create-a', 'x-plexus-reason': 'initial setup' },
    );
    await write('PUT', `/nodes/${nodeA}/modules/web`, web(8000, 'one'));
    await write('PUT', `/nodes/${nodeA}/modules/api`, web(8001, 'api'));
    await write(
      'PATCH',
      `/nodes/${nodeA}/modules/web/config`,
      { message: 'two' },
      { 'x-correlation-id': 'corr-patch' },
    );
    await write('POST', `/nodes/${nodeA}/modules/web/restart`, undefined, {
      'x-correlation-id': 'corr-restart',
    });
    await write('PUT', `/nodes/${nodeB}`, { properties: { db_password: secrets[2] } });
    await write('PUT', `/nodes/${nodeB}/modules/web`, web(8000, 'b'));
    await write('POST', `/nodes/${nodeB}/modules/web/stop`);
    await write('PUT', `/nodes/${nodeA}`, {
      properties: { region: 'us', db_password: secrets[1] },
    });
    // What membership records for a process of node A: its own stream and actor.
    const stream = processStreamId(processId);
    await appendToStream(db, stream, nodeA, 0, [
      processEvent('ProcessJoined', `process:${processId}`),
    ]);
    await appendToStream(db, stream, nodeA, 1, [processEvent('ProcessLost', 'failure-detector')]);
    await write('DELETE', `/nodes/${nodeB}/modules/web`);
  });

  afterAll(async () => {
    await db?.close();
    await cp?.close();
    await testDb?.drop();
  });

  it('lists every event newest first, each in the stored-event shape', async () => {
    const { events } = await walk({});
    const [{ count }] = await db.query<{ count: string }>('SELECT count(*) FROM events');
    expect(events).toHaveLength(Number(count));
    expect(events.length).toBeGreaterThanOrEqual(13);
    for (const e of events) expect(Object.keys(e).sort()).toEqual([...FIELDS].sort());
    const times = events.map((e) => Date.parse(e.recordedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // The newest is the last write; the oldest node A's creation, with its reason.
    expect(events[0]).toMatchObject({ nodeId: nodeB, type: 'ModuleRemoved' });
    expect(events[events.length - 1]).toMatchObject({
      nodeId: nodeA,
      streamId: nodeA,
      version: 1,
      type: 'NodeCreated',
      data: { properties: { region: 'eu', db_password: '******' } },
      metadata: { actor: 'admin', correlationId: 'corr-create-a', reason: 'initial setup' },
    });
    all = events;
  });

  it('filters by each parameter', async () => {
    const from = all[Math.floor(all.length * 0.7)].recordedAt;
    const to = all[Math.floor(all.length * 0.3)].recordedAt;
    const cases: [Record<string, string | string[]>, (e: StoredEvent) => boolean][] = [
      [{ nodeId: nodeA }, (e) => e.nodeId === nodeA],
      [{ nodeId: nodeB }, (e) => e.nodeId === nodeB],
      [{ moduleId: 'web' }, (e) => e.data.moduleId === 'web'],
      [{ moduleId: 'api' }, (e) => e.data.moduleId === 'api'],
      [{ type: 'ModuleAdded' }, (e) => e.type === 'ModuleAdded'],
      [
        { type: ['ModuleStopped', 'ModuleStarted'] },
        (e) => e.type === 'ModuleStopped' || e.type === 'ModuleStarted',
      ],
      [
        { type: 'NodeCreated,NodePropertiesChanged' },
        (e) => e.type === 'NodeCreated' || e.type === 'NodePropertiesChanged',
      ],
      [
        { type: ['NodeCreated,ProcessLost', 'ModuleRemoved', 'NodeCreated'] },
        (e) => ['NodeCreated', 'ProcessLost', 'ModuleRemoved'].includes(e.type),
      ],
      [{ actor: 'admin' }, (e) => e.metadata.actor === 'admin'],
      [{ actor: 'failure-detector' }, (e) => e.metadata.actor === 'failure-detector'],
      [{ correlationId: 'corr-restart' }, (e) => e.metadata.correlationId === 'corr-restart'],
      [{ correlationId: processId }, (e) => e.metadata.correlationId === processId],
      [{ from }, (e) => e.recordedAt >= from],
      [{ to }, (e) => e.recordedAt < to],
      [{ from, to }, (e) => e.recordedAt >= from && e.recordedAt < to],
    ];
    for (const [params, matches] of cases) {
      const expected = all.filter(matches);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(all.length);
      const { events } = await walk(params);
      expect({ params, ids: ids(events) }).toEqual({ params, ids: ids(expected) });
    }
    expect((await get(`/events?correlationId=corr-restart`)).body.events).toHaveLength(2);
  });

  it('combines filters', async () => {
    const from = all[Math.floor(all.length * 0.8)].recordedAt;
    const to = all[Math.floor(all.length * 0.2)].recordedAt;
    const cases: [Record<string, string | string[]>, (e: StoredEvent) => boolean][] = [
      [
        { nodeId: nodeA, type: 'ModuleStopped,ModuleAdded' },
        (e) => e.nodeId === nodeA && ['ModuleStopped', 'ModuleAdded'].includes(e.type),
      ],
      [
        { nodeId: nodeA, moduleId: 'web', type: ['ModuleStarted', 'ModuleConfigChanged'] },
        (e) =>
          e.nodeId === nodeA &&
          e.data.moduleId === 'web' &&
          ['ModuleStarted', 'ModuleConfigChanged'].includes(e.type),
      ],
      [
        { actor: 'admin', from, to },
        (e) => e.metadata.actor === 'admin' && e.recordedAt >= from && e.recordedAt < to,
      ],
      [
        { correlationId: processId, type: 'ProcessJoined', nodeId: nodeA },
        (e) => e.metadata.correlationId === processId && e.type === 'ProcessJoined',
      ],
      [{ moduleId: 'web', nodeId: nodeB }, (e) => e.data.moduleId === 'web' && e.nodeId === nodeB],
    ];
    for (const [params, matches] of cases) {
      const expected = all.filter(matches);
      expect(expected.length).toBeGreaterThan(0);
      const { events } = await walk(params, 2);
      expect({ params, ids: ids(events) }).toEqual({ params, ids: ids(expected) });
    }
    const none = await get(`/events?${qs({ nodeId: nodeB, actor: 'failure-detector' })}`);
    expect(none.body).toEqual({ events: [], next: null });
  });

  it('pages with a cursor: every page size walks the same listing, the last page has next null', async () => {
    for (const limit of [1, 2, 5, 1000]) {
      const { events, pages } = await walk({}, limit);
      expect(ids(events)).toEqual(ids(all));
      expect(pages).toBe(Math.max(1, Math.ceil(all.length / limit)));
    }
    const first = await get('/events?limit=3');
    expect(first.body.events).toHaveLength(3);
    expect(typeof first.body.next).toBe('string');
    expect(first.body.next).toMatch(/^[A-Za-z0-9_-]+$/);
    const exact = await get(`/events?limit=${all.length}`);
    expect(exact.body.events).toHaveLength(all.length);
    expect(exact.body.next).toBeNull();
  });

  it('keeps a listing stable while other writers append: nothing twice, nothing missing', async () => {
    const before = new Set(
      (await db.query<{ event_id: string }>('SELECT event_id FROM events')).map((r) => r.event_id),
    );
    let writing = true;
    let written = 0;
    const writers = [0, 1, 2].map(async (w) => {
      for (let i = 0; writing; i++) {
        const node = w === 2 ? nodeB : nodeA;
        const path = w === 2 ? `/nodes/${node}` : `/nodes/${node}/modules/api/config`;
        const body =
          w === 2
            ? { properties: { db_password: secrets[2], n: `${i}` } }
            : { message: `w${w}-${i}` };
        await write(w === 2 ? 'PUT' : 'PATCH', path, body);
        written++;
      }
    });
    try {
      // Let the writers get going, then walk a page at a time while they append.
      await waitFor('five writes done', async () => written >= 5, 10_000, 5);
      const first = await get('/events?limit=2');
      const afterFirst = new Set(
        (await db.query<{ event_id: string }>('SELECT event_id FROM events')).map(
          (r) => r.event_id,
        ),
      );
      const seen: string[] = ids(first.body.events);
      let after: string | null = first.body.next;
      let pages = 1;
      while (after) {
        const res = await get(`/events?${qs({ limit: '2', after })}`);
        seen.push(...ids(res.body.events));
        after = res.body.next;
        pages++;
      }
      writing = false;
      await Promise.all(writers);

      expect(pages).toBeGreaterThanOrEqual(before.size / 2);
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of before) expect(seen).toContain(id);
      for (const id of seen) expect(afterFirst.has(id)).toBe(true);
      // Appends did land meanwhile; a new listing shows them.
      const [{ count }] = await db.query<{ count: string }>('SELECT count(*) FROM events');
      expect(Number(count)).toBeGreaterThan(afterFirst.size);
      expect((await walk({}, 1000)).events).toHaveLength(Number(count));
    } finally {
      writing = false;
      await Promise.allSettled(writers);
    }
  });

  it('leaves an event whose transaction took a lower position but committed later to the next listing', async () => {
    const stream = processStreamId(randomUUID());
    const late = processEvent('ProcessJoined', 'late-writer');
    let commit!: () => void;
    let appended!: () => void;
    const inserted = new Promise<void>((r) => (appended = r));
    const slow = db.transaction(async (sql) => {
      await appendToStream(sql, stream, nodeA, 0, [late]);
      appended();
      await new Promise<void>((r) => (commit = r));
    });
    await inserted;
    // A write that takes a higher position and commits first.
    await write('PATCH', `/nodes/${nodeA}/modules/web/config`, { message: 'meanwhile' });
    const first = await get('/events?limit=1');
    expect(first.body.events[0]).toMatchObject({ nodeId: nodeA, type: 'ModuleConfigChanged' });
    const higher = first.body.events[0] as StoredEvent;
    commit();
    await slow;

    const seen: StoredEvent[] = [...first.body.events];
    let after: string | null = first.body.next;
    while (after) {
      const res = await get(`/events?${qs({ limit: '50', after })}`);
      seen.push(...res.body.events);
      after = res.body.next;
    }
    expect(ids(seen)).not.toContain(late.eventId);

    const fresh = await walk({ actor: 'late-writer' });
    expect(ids(fresh.events)).toEqual([late.eventId]);
    expect(BigInt(fresh.events[0].position)).toBeLessThan(BigInt(higher.position));
  });

  it('answers one event by ID; 404 when there is none, 400 when the ID is not a UUID', async () => {
    const sample = all[3];
    const one = await get(`/events/${sample.eventId}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(sample);
    const missing = await get(`/events/${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.message).toMatch(/does not exist/);
    const bad = await get('/events/not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/id must be an event ID \(a UUID\)/);
  });

  it('exports as ndjson exactly what the paged listing shows', async () => {
    const shapes: Record<string, string>[] = [
      {},
      { nodeId: nodeA, type: 'ModuleConfigChanged,ModuleStarted' },
    ];
    for (const params of shapes) {
      const res = await get(`/events?${qs({ ...params, format: 'ndjson' })}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const text = res.body as string;
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.trimEnd().split('\n');
      const paged = await walk(params, 3);
      expect(lines.map((l) => JSON.parse(l))).toEqual(paged.events);
    }
    // An export can start from a cursor of the listing.
    const first = await get('/events?limit=4');
    const rest = await get(`/events?${qs({ after: first.body.next, format: 'ndjson' })}`);
    const restIds = (rest.body as string)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).eventId);
    const { events } = await walk({});
    expect(restIds).toEqual(ids(events).slice(4));
  });

  it('refuses bad parameters with 400 naming the parameter and its rule', async () => {
    const listing = await get(`/events?${qs({ nodeId: nodeA, limit: '1' })}`);
    const cursor = listing.body.next as string;
    const forged = (body: unknown) => Buffer.from(JSON.stringify(body)).toString('base64url');
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    const cases: [Record<string, string | string[]>, RegExp][] = [
      [{ nodeId: 'bad node' }, /nodeId must be 1-30 characters/],
      [{ nodeId: 'n'.repeat(31) }, /nodeId must be at most 30 characters/],
      [{ nodeId: [nodeA, nodeB] }, /nodeId must be given once/],
      [{ moduleId: 'a/b' }, /moduleId must be 1-30 characters/],
      [
        { type: 'NodeExploded' },
        /type must be one or more of NodeCreated, .*ScaleRecommended.*"NodeExploded"/,
      ],
      [{ type: 'NodeCreated,' }, /type must be one or more of .*got ""/],
      [{ type: ['ModuleAdded', 'moduleadded'] }, /type must be .*"moduleadded"/],
      [{ actor: '' }, /actor must be 1-200 characters/],
      [{ correlationId: 'c'.repeat(201) }, /correlationId must be 1-200 characters/],
      [{ from: 'yesterday' }, /from must be an ISO-8601 time/],
      [{ to: '2026-13-45T00:00:00Z' }, /to must be an ISO-8601 time/],
      [
        { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' },
        /from must not be later than to/,
      ],
      [{ limit: '0' }, /limit must be an integer from 1 to 1000/],
      [{ limit: '1001' }, /limit must be an integer from 1 to 1000/],
      [{ limit: 'ten' }, /limit must be an integer from 1 to 1000/],
      [{ format: 'csv' }, /format must be json or ndjson/],
      [{ after: 'not a cursor!' }, /after must be the `next` cursor/],
      [{ after: forged({ hello: 'world' }) }, /after must be the `next` cursor/],
      [
        { nodeId: nodeA, after: forged({ ...decoded, s: '10:5:' }) },
        /after must be the `next` cursor/,
      ],
      [{ nodeId: nodeB, after: cursor }, /after continues a listing with other filters/],
      [{ after: cursor }, /after continues a listing with other filters/],
      [{ node: nodeA }, /node: not a known parameter/],
    ];
    for (const [params, message] of cases) {
      const res = await get(`/events?${qs(params)}`);
      expect({ params, status: res.status }).toEqual({ params, status: 400 });
      expect({ params, error: res.body.error }).toEqual({ params, error: 'Bad Request' });
      expect({ params, message: res.body.message }).toEqual({
        params,
        message: expect.stringMatching(message),
      });
    }
    // the untouched cursor still works with its own filters
    expect((await get(`/events?${qs({ nodeId: nodeA, limit: '1', after: cursor })}`)).status).toBe(
      200,
    );
  });

  it('needs the bearer token', async () => {
    const anonymous = new AdminApi(cp.url, null);
    expect((await anonymous.get('/events')).status).toBe(401);
    expect((await anonymous.get(`/events/${all[0].eventId}`)).status).toBe(401);
  });

  describe('a large export', () => {
    const bulkNode = `audit-bulk-${hex()}`;
    const BULK = 30_000;

    beforeAll(async () => {
      // 30 batches of about 1 kB per event: far more than socket buffers hold.
      await db.query(
        `INSERT INTO events (event_id, stream_id, stream_version, node_id, type, payload, metadata)
         SELECT gen_random_uuid(), 'process/' || $1 || '-' || (g / 100), g % 100 + 1, $1, 'ProcessConfigApplied',
                jsonb_build_object('processId', $1 || '-' || (g / 100), 'version', g, 'note', repeat('x', 800)),
                jsonb_build_object('actor', 'process:' || $1 || '-' || (g / 100), 'correlationId', $1 || '-' || (g / 100))
         FROM generate_series(0, $2::int - 1) g`,
        [bulkNode, BULK],
      );
      await db.query('ANALYZE events'); // what autovacuum does after a bulk load
    });

    it('streams many batches, equal to the paged listing', async () => {
      const res = await api.get(`/events?${qs({ nodeId: bulkNode, format: 'ndjson' })}`);
      expect(res.status).toBe(200);
      const lines = (res.body as string).trimEnd().split('\n');
      expect(lines).toHaveLength(BULK);
      const paged = await walk({ nodeId: bulkNode }, 1000);
      expect(lines.map((l) => JSON.parse(l).eventId)).toEqual(ids(paged.events));
    });

    it('reads no further while the client does not read, and stops when it goes away', async () => {
      const database = cp.app.get<Database>(DATABASE);
      const service = cp.app.get(EventsService);
      const queries = jest.spyOn(database, 'query');
      const exports = jest.spyOn(service, 'export');
      const batchesRead = () =>
        queries.mock.calls.filter(([text]) => text.includes('pg_visible_in_snapshot')).length;
      try {
        const { port } = new URL(cp.url);
        const req = http.get({
          host: '127.0.0.1',
          port,
          path: `/events?${qs({ nodeId: bulkNode, format: 'ndjson' })}`,
          headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        });
        const response = await new Promise<http.IncomingMessage>((resolve) =>
          req.once('response', resolve),
        );
        await new Promise((r) => response.once('data', r));
        response.pause(); // a slow reader: take nothing more

        // Wait until the server has filled the socket and stopped reading from Postgres.
        let stable = 0;
        let last = -1;
        await waitFor(
          'no batch read from Postgres for ten probes in a row',
          async () => {
            const now = batchesRead();
            stable = now === last ? stable + 1 : 0;
            last = now;
            return stable >= 10;
          },
          20_000,
          50,
        );
        const whilePaused = batchesRead();
        expect(whilePaused).toBeGreaterThanOrEqual(1);
        expect(whilePaused).toBeLessThan(BULK / 1000);

        req.destroy(); // the client goes away
        await exports.mock.results[0].value; // the export's loop has ended
        expect(batchesRead()).toBeLessThanOrEqual(whilePaused + 1);
        expect(batchesRead()).toBeLessThan(BULK / 1000);
      } finally {
        queries.mockRestore();
        exports.mockRestore();
      }
      // The server is fine and answers the next export in full.
      const again = await api.get(`/events?${qs({ nodeId: bulkNode, limit: '5' })}`);
      expect(again.body.events).toHaveLength(5);
    });
  });

  it('never answers a secret in clear', async () => {
    // The secrets are stored (for time travel and revert), encrypted, and never answered.
    const stored = await db.query<{ secret_payload: unknown }>(
      'SELECT secret_payload FROM events WHERE secret_payload IS NOT NULL',
    );
    const storedText = JSON.stringify(stored);
    const cipher = testSecretsCipher();
    const decrypted = (storedText.match(/enc:v1:[^"]+/g) ?? []).map((v) => cipher.decrypt(v));
    for (const secret of secrets) {
      expect(storedText).not.toContain(secret);
      expect(decrypted).toContain(secret);
    }
    expect(answers.length).toBeGreaterThan(50);
    for (const answer of answers)
      for (const secret of secrets) expect(answer).not.toContain(secret);
    expect(answers.join('\n')).toContain('******');
  });
});
