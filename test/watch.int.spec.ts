import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { EVENTS_STREAM } from '@plexus/bus';
import { StoredEvent } from '@plexus/event-store';
import { WATCH_CONSUMER_PREFIX, WatchService } from '../apps/control-plane/src/watch/watch.service';
import { createTestDatabase } from './support/databases';
import {
  AdminApi,
  RunningControlPlane,
  startControlPlane,
  TEST_ADMIN_TOKEN,
} from './support/control-plane';
import { waitFor } from './support/ports';
import { SseClient } from './support/sse-client';

const hex = () => randomBytes(4).toString('hex');
const auth = (token = TEST_ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });
/** Big enough that a client which stops reading passes the bound below within a few writes. */
const BUFFER_MAX_BYTES = 256 * 1024;
const KEEPALIVE_MS = 300;

describe('watch API: GET /watch as Server-Sent Events (real Postgres and NATS)', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  let nc: NatsConnection;
  let closed = false;
  const open: SseClient[] = [];
  const nodeA = `watch-a-${hex()}`;
  const nodeB = `watch-b-${hex()}`;

  const watch = async (query: string, headers: Record<string, string> = auth(), paused = false) => {
    const client = await SseClient.open(`${cp.url}/watch${query}`, headers, { paused });
    open.push(client);
    return client;
  };
  const ok = async <T>(res: Promise<{ status: number; body: T }>) => {
    const r = await res;
    expect(r.status).toBeLessThan(300);
    return r.body;
  };
  const setMessage = (nodeId: string, message: string) =>
    ok(api.patch(`/nodes/${nodeId}/modules/web/config`, { message }));
  /** The node's events as GET /events lists them, oldest first. */
  const listed = async (nodeId: string): Promise<StoredEvent[]> => {
    const body = await ok(
      api.get<{ events: StoredEvent[] }>(`/events?nodeId=${nodeId}&limit=1000`),
    );
    return [...body.events].sort((a, b) => Number(a.position) - Number(b.position));
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    cp = await startControlPlane({
      databaseUrl: testDb.url,
      idlePollMs: 50,
      env: {
        WATCH_KEEPALIVE_MS: String(KEEPALIVE_MS),
        WATCH_BUFFER_MAX_BYTES: String(BUFFER_MAX_BYTES),
      },
    });
    api = cp.api;
    nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
    for (const nodeId of [nodeA, nodeB]) {
      await ok(api.put(`/nodes/${nodeId}`, { properties: { region: 'eu' } }));
      await ok(
        api.put(`/nodes/${nodeId}/modules/web`, {
          type: 'http-endpoint',
          config: { port: '8000', message: 'one' },
        }),
      );
    }
  });

  afterAll(async () => {
    open.forEach((c) => c.close());
    await nc?.close();
    if (!closed) await cp?.close();
    await testDb?.drop();
  });

  it('sends a write on the watched node within a second: id its position, event its type, data as GET /events/:id', async () => {
    const client = await watch(`?nodeId=${nodeA}`);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    await setMessage(nodeB, 'not watched');
    const written = Date.now();
    await setMessage(nodeA, 'watched');
    const message = await client.until(() => client.messages[0], 1000, 'event of node A');
    expect(Date.now() - written).toBeLessThan(1000);
    const data = JSON.parse(message.data) as StoredEvent;
    expect(message.event).toBe('ModuleConfigChanged');
    expect(message.id).toBe(data.position);
    expect(data.nodeId).toBe(nodeA);
    expect(data.data).toMatchObject({ moduleId: 'web' });
    const byId = await ok(api.get(`/events/${data.eventId}`));
    expect(data).toEqual(byId);
    // Node B's writes, before and after, never reach this watch.
    await setMessage(nodeB, 'still not watched');
    await setMessage(nodeA, 'watched again');
    await client.until(() => client.messages.length >= 2 && true, 2000, 'second event');
    await new Promise((r) => setTimeout(r, 300));
    expect(client.events<StoredEvent>().map((e) => e.nodeId)).toEqual([nodeA, nodeA]);
  });

  it('filters by type, as GET /events does (process status and rollout progress are events too)', async () => {
    const client = await watch(`?nodeId=${nodeA}&type=NodePropertiesChanged,ModuleStopped`);
    await setMessage(nodeA, 'filtered out');
    await ok(api.put(`/nodes/${nodeA}`, { properties: { region: 'us' } }));
    await ok(api.post(`/nodes/${nodeA}/modules/web/stop`));
    await client.until(() => client.messages.length >= 2 && true, 2000, 'two events');
    expect(client.messages.map((m) => m.event)).toEqual(['NodePropertiesChanged', 'ModuleStopped']);
    await ok(api.post(`/nodes/${nodeA}/modules/web/start`));
  });

  it('resumes with Last-Event-ID: exactly the missed events, then live ones, none twice', async () => {
    const first = await watch(`?nodeId=${nodeA}`);
    await setMessage(nodeA, 'seen');
    // The previous test's last write may still be on its way to NATS: wait for this one's event.
    const seen = await first.until(
      () => first.messages.find((m) => JSON.parse(m.data).data?.changes?.[0]?.new === 'seen'),
      2000,
      'the "seen" event',
    );
    first.close();
    await setMessage(nodeA, 'missed 1');
    await setMessage(nodeB, 'other node');
    await setMessage(nodeA, 'missed 2');
    const missed = (await listed(nodeA)).filter((e) => Number(e.position) > Number(seen.id));
    expect(missed).toHaveLength(2);

    const resumed = await watch(`?nodeId=${nodeA}`, { ...auth(), 'Last-Event-ID': seen.id! });
    await resumed.until(() => resumed.messages.length >= 2 && true, 2000, 'the missed events');
    await setMessage(nodeA, 'live');
    await resumed.until(() => resumed.messages.length >= 3 && true, 2000, 'the live event');
    await new Promise((r) => setTimeout(r, 300)); // a duplicate from NATS would come now
    const got = resumed.events<StoredEvent>();
    expect(got.slice(0, 2)).toEqual(missed);
    expect(got).toHaveLength(3);
    expect(got[2].data).toMatchObject({ changes: [{ key: 'message', new: 'live' }] });
    expect(resumed.messages.map((m) => m.id)).toEqual(got.map((e) => e.position));
  });

  it('replays every event of the node with ?after=0, in order, then goes live', async () => {
    const client = await watch(`?nodeId=${nodeA}&after=0`);
    const all = await listed(nodeA);
    await client.until(() => client.messages.length >= all.length && true, 3000, 'the replay');
    await setMessage(nodeA, 'after the replay');
    await client.until(() => client.messages.length > all.length && true, 2000, 'the live event');
    await new Promise((r) => setTimeout(r, 300));
    const got = client.events<StoredEvent>();
    expect(got.slice(0, all.length)).toEqual(all);
    expect(got).toHaveLength(all.length + 1);
  });

  it('refuses bad input with a 400 naming the field, an unknown position included', async () => {
    const bad = async (query: string, headers: Record<string, string> = {}) => {
      const res = await api.get(`/watch${query}`, headers);
      expect(res.status).toBe(400);
      return res.body.message as string;
    };
    expect(await bad('?after=x')).toMatch(/^after must be the global position of an event/);
    expect(await bad('', { 'Last-Event-ID': 'abc' })).toMatch(/^Last-Event-ID must be/);
    expect(await bad('?after=999999999')).toMatch(/no event has position 999999999/);
    expect(await bad('?limit=3')).toMatch(/^limit: not a known parameter/);
    expect(await bad('?type=Nope')).toMatch(/^type must be one or more of/);
  });

  it('lets an auditor watch and answers 401 to an invalid or missing token', async () => {
    const created = await ok(
      api.post<{ token: string }>('/tokens', { name: `watch-${hex()}`, role: 'auditor' }),
    );
    const auditor = await watch(`?nodeId=${nodeA}`, auth(created.token));
    expect(auditor.status).toBe(200);
    await setMessage(nodeA, 'for the auditor');
    await auditor.until(() => auditor.messages[0], 2000);

    for (const headers of [auth('not-a-real-token-0000000000'), {}]) {
      const refused = await watch(`?nodeId=${nodeA}`, headers);
      expect(refused.status).toBe(401);
      await refused.until(() => refused.ended, 2000, 'the end of the answer');
      expect(JSON.parse(refused.body)).toMatchObject({ statusCode: 401 });
    }
  });

  it('redacts secrets exactly as GET /events does', async () => {
    const secret = `s3cret-${hex()}${hex()}`;
    const client = await watch(`?nodeId=${nodeA}&type=NodePropertiesChanged`);
    await ok(api.put(`/nodes/${nodeA}`, { properties: { region: 'us', db_password: secret } }));
    const message = await client.until(() => client.messages[0], 2000);
    expect(client.body).not.toContain(secret);
    const data = JSON.parse(message.data) as StoredEvent;
    expect(JSON.stringify(data)).toContain('db_password');
    expect(data).toEqual(await ok(api.get(`/events/${data.eventId}`)));
  });

  it('sends keep-alive comments while nothing happens', async () => {
    const client = await watch(`?nodeId=${nodeA}&type=NodeArchived`);
    await client.until(() => client.comments.length >= 2 && true, KEEPALIVE_MS * 6, 'keep-alives');
    expect(client.comments.slice(0, 2)).toEqual(['keep-alive', 'keep-alive']);
  });

  it('cuts off a client that stops reading, with a last error message, while another keeps receiving', async () => {
    const slow = await watch(`?nodeId=${nodeA}`, auth(), true);
    const fast = await watch(`?nodeId=${nodeA}`);
    // Each write's event carries old and new values of 4 properties of 60 KB: about 480 KB.
    const big = (n: number) =>
      Object.fromEntries([1, 2, 3, 4].map((k) => [`blob.${k}`, String(n % 10).repeat(60_000)]));
    const writes = 20; // ~9.6 MB: more than the sockets' buffers and the bound together
    for (let n = 0; n < writes; n++) {
      await ok(api.put(`/nodes/${nodeA}`, { properties: big(n) }));
      await fast.until(
        () => fast.messages.length >= n + 1 && true,
        2000,
        `event ${n + 1} on the fast client`,
      );
    }
    expect(fast.ended).toBe(false);
    slow.resume();
    await slow.until(() => slow.ended, 10_000, 'the end of the slow stream');
    const last = slow.messages[slow.messages.length - 1];
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data).message).toMatch(
      /fell behind: more than \d+ (bytes|events) waited/,
    );
    expect(slow.messages.length - 1).toBeLessThan(writes);
    // The fast one still gets what comes next.
    await setMessage(nodeA, 'after the cut-off');
    await fast.until(() => fast.messages.length === writes + 1 && true, 2000, 'the next event');
  });

  it("stops each client's consumer when it goes away, however many come and go", async () => {
    const service = cp.app.get(WatchService);
    const jsm = await nc.jetstreamManager();
    const watchConsumers = async () =>
      (await jsm.consumers.list(EVENTS_STREAM).next()).filter((c) =>
        c.name.startsWith(WATCH_CONSUMER_PREFIX),
      ).length;
    open.splice(0).forEach((c) => c.close());
    await waitFor(
      'no watch left open',
      async () => service.openSessions === 0 && (await watchConsumers()) === 0,
      5000,
    );
    for (let round = 0; round < 5; round++) {
      // Opened one after another: ten consumer creations at once can take JetStream's API over
      // the 1 s NATS timeout on a loaded 2-core machine, and a 503 there is the breaker working.
      const clients = [];
      for (let i = 0; i < 10; i++)
        clients.push(await watch(i % 2 ? `?nodeId=${nodeA}` : `?after=0&nodeId=${nodeB}`));
      expect(clients.map((c) => c.status)).toEqual(Array(10).fill(200));
      expect(service.openSessions).toBe(10);
      clients.forEach((c) => c.close());
    }
    await waitFor('no session left', async () => service.openSessions === 0, 5000);
    await waitFor('no consumer left', async () => (await watchConsumers()) === 0, 5000);
    expect(service.openSessions).toBe(0);
    expect(await watchConsumers()).toBe(0);
  });

  it('ends open watches with a last message when the control plane shuts down', async () => {
    const client = await watch(`?nodeId=${nodeA}`);
    expect(client.status).toBe(200);
    closed = true;
    await cp.close(); // resolves: an open stream does not hold the shutdown up
    await client.until(() => client.ended, 2000, 'the end of the stream');
    const last = client.messages[client.messages.length - 1];
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data).message).toMatch(/shutting down/);
  });
});
