import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { NODES_BUCKET } from '@plexus/bus';
import { createTestDatabase } from './support/databases';
import { eventsOnStream } from './support/event-stream';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { committedOpenApi } from './support/openapi-contract';
import { waitFor } from './support/ports';

const nodeName = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
const web = (port = 8000, message = 'hello') => ({
  type: 'http-endpoint',
  config: { port: String(port), message },
});

describe('admin API (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  let nc: NatsConnection;

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane({ databaseUrl: db.url });
    // Every answer these tests get is checked against the committed OpenAPI document.
    api = cp.api.validateAgainst(committedOpenApi());
    nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
  });

  afterAll(async () => {
    await nc?.close();
    await cp?.close();
    await db?.drop();
  });

  it('creates a node and a module, answering with the version as ETag, and serves earlier versions', async () => {
    const nodeId = nodeName('n');
    const created = await api.put(`/nodes/${nodeId}`, { properties: { server_port_offset: 100 } });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.body).toMatchObject({
      nodeId,
      version: 1,
      properties: { server_port_offset: '100' },
      modules: [],
    });

    const added = await api.put(`/nodes/${nodeId}/modules/web`, web(8000, 'one'));
    expect(added.status).toBe(201);
    expect(added.headers.get('etag')).toBe('"2"');

    const patched = await api.patch(`/nodes/${nodeId}/modules/web/config`, { message: 'two' });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(3);
    expect(patched.body.modules[0].config).toEqual({ port: '8000', message: 'two' });

    const latest = await api.get(`/nodes/${nodeId}`);
    expect(latest.headers.get('etag')).toBe('"3"');
    expect(latest.body.modules[0].config.message).toBe('two');
    const v2 = await api.get(`/nodes/${nodeId}?version=2`);
    expect(v2.body.version).toBe(2);
    expect(v2.body.modules[0].config.message).toBe('one');
    expect((await api.get(`/nodes/${nodeId}?version=9`)).status).toBe(404);

    const list = await api.get('/nodes');
    expect(list.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ nodeId, version: 3, moduleCount: 1 })]),
    );
  });

  it('publishes every change to the events stream in order and the latest document to the KV bucket', async () => {
    const nodeId = nodeName('pub');
    await api.put(`/nodes/${nodeId}`, { properties: {} });
    await api.put(`/nodes/${nodeId}/modules/web`, web());
    await api.post(`/nodes/${nodeId}/modules/web/restart`);
    await api.post(`/nodes/${nodeId}/modules/web/stop`);
    const kv = await nc.jetstream().views.kv(NODES_BUCKET);
    const doc = await waitFor('document v5 in KV', async () => {
      const entry = await kv.get(nodeId);
      const d = entry?.json<any>();
      return d?.version === 5 && d;
    });
    expect(doc.modules[0]).toMatchObject({ moduleId: 'web', enabled: false, generation: 1 });
    const events = await eventsOnStream(nc, nodeId);
    expect(events.map((e) => [e.version, e.type])).toEqual([
      [1, 'NodeCreated'],
      [2, 'ModuleAdded'],
      [3, 'ModuleStopped'],
      [4, 'ModuleStarted'],
      [5, 'ModuleStopped'],
    ]);
    expect(events[0].metadata).toMatchObject({ actor: 'admin' });
  });

  it('lets exactly one of 16 concurrent If-Match writers win each version; the others get 412', async () => {
    const nodeId = nodeName('race');
    await api.put(`/nodes/${nodeId}`, { properties: {} });
    await api.put(`/nodes/${nodeId}/modules/web`, web());
    const statuses: number[] = [];
    // Every round, 16 writers race from the same version: one wins, 15 lose.
    for (let round = 0; round < 5; round++) {
      const { headers } = await api.get(`/nodes/${nodeId}`);
      const etag = headers.get('etag')!;
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          api.patch(
            `/nodes/${nodeId}/modules/web/config`,
            { message: `r${round}w${i}` },
            { 'if-match': etag },
          ),
        ),
      );
      statuses.push(...results.map((r) => r.status));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      for (const loser of results.filter((r) => r.status !== 200)) {
        expect(loser.status).toBe(412);
        expect(loser.body.message).toMatch(/If-Match/);
      }
    }
    const final = await api.get(`/nodes/${nodeId}`);
    expect(final.body.version).toBe(2 + 5);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    // every version exists exactly once
    const versions = await Promise.all(
      [1, 2, 3, 4, 5, 6, 7].map((v) => api.get(`/nodes/${nodeId}?version=${v}`)),
    );
    expect(versions.map((r) => r.body.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('without If-Match, concurrent writers to one node all succeed, one version each', async () => {
    const nodeId = nodeName('merge');
    await api.put(`/nodes/${nodeId}`, { properties: {} });
    await api.put(`/nodes/${nodeId}/modules/web`, web());
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        api.patch(`/nodes/${nodeId}/modules/web/config`, { message: `m${i}` }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const final = await api.get(`/nodes/${nodeId}`);
    expect(final.body.version).toBe(10);
    expect(final.body.modules[0].config.message).toMatch(/^m[0-7]$/);
  });

  describe('refuses bad input with a 4xx that names the field, and stores nothing', () => {
    let nodeId: string;
    beforeAll(async () => {
      nodeId = nodeName('bad');
      await api.put(`/nodes/${nodeId}`, { properties: {} });
      await api.put(`/nodes/${nodeId}/modules/web`, web());
    });

    const cases: [string, () => Promise<{ status: number; body: any }>, number, RegExp][] = [
      [
        'node ID with a space',
        () => api.put('/nodes/bad%20node', { properties: {} }),
        400,
        /nodeId must be 1-30 characters/,
      ],
      [
        'node ID of 31 characters',
        () => api.put(`/nodes/${'a'.repeat(31)}`, { properties: {} }),
        400,
        /nodeId must be at most 30 characters/,
      ],
      [
        'non-ASCII node ID',
        () => api.put(`/nodes/${encodeURIComponent('nœud')}`, { properties: {} }),
        400,
        /nodeId must be/,
      ],
      [
        'module ID with a space',
        () => api.put(`/nodes/${nodeId}/modules/a%20b`, web()),
        400,
        /moduleId must be/,
      ],
      [
        'wrong config value type (object)',
        () =>
          api.put(`/nodes/${nodeId}/modules/web`, {
            type: 'http-endpoint',
            config: { port: { n: 1 } },
          }),
        400,
        /config\.port must be a string/,
      ],
      [
        'config value breaking the type schema',
        () => api.patch(`/nodes/${nodeId}/modules/web/config`, { port: 'eighty' }),
        400,
        /config\.port must be an integer/,
      ],
      [
        'unknown config key',
        () => api.patch(`/nodes/${nodeId}/modules/web/config`, { prot: '1' }),
        400,
        /config\.prot is not a key/,
      ],
      [
        'missing type',
        () => api.put(`/nodes/${nodeId}/modules/y`, { config: {} }),
        400,
        /type must be/,
      ],
      [
        'enabled not a boolean',
        () => api.put(`/nodes/${nodeId}/modules/web`, { ...web(), enabled: 'yes' }),
        400,
        /enabled must be a boolean/,
      ],
      [
        'requires naming no module',
        () =>
          api.put(`/nodes/${nodeId}/modules/web`, {
            ...web(),
            requires: { SECURITY_IN_UP: 'nope' },
          }),
        400,
        /requires\.SECURITY_IN_UP .* "nope"/,
      ],
      [
        'malformed JSON',
        () => api.request('PUT', `/nodes/${nodeId}/modules/web`, '{"type": "http-'),
        400,
        /not valid JSON/,
      ],
      [
        'a 2 MiB body',
        () =>
          api.put(`/nodes/${nodeId}/modules/web`, {
            ...web(),
            config: { message: 'x'.repeat(2 * 1024 * 1024) },
          }),
        413,
        /larger than 1 MiB/,
      ],
      [
        'an If-Match that is not a version',
        () =>
          api.patch(
            `/nodes/${nodeId}/modules/web/config`,
            { message: 'x' },
            { 'if-match': 'banana' },
          ),
        400,
        /If-Match must be/,
      ],
      [
        'a module of a node that does not exist',
        () => api.put(`/nodes/${nodeName('none')}/modules/web`, web()),
        404,
        /does not exist/,
      ],
      [
        'removing a module that does not exist',
        () => api.delete(`/nodes/${nodeId}/modules/ghost`),
        404,
        /module "ghost" does not exist/,
      ],
      [
        'an unknown lifecycle action',
        () => api.post(`/nodes/${nodeId}/modules/web/explode`),
        400,
        /action must be start, stop or restart/,
      ],
    ];

    it.each(cases)('%s', async (_label, call, status, message) => {
      const before = await api.get(`/nodes/${nodeId}`);
      const res = await call();
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ statusCode: status, error: expect.any(String) });
      expect(res.body.message).toMatch(message);
      const after = await api.get(`/nodes/${nodeId}`);
      expect(after.body.version).toBe(before.body.version);
      expect(after.body).toEqual(before.body);
    });

    it('answers 401 without a token and with a wrong one', async () => {
      const anonymous = new AdminApi(api.baseUrl, null);
      expect((await anonymous.get('/nodes')).status).toBe(401);
      const wrong = new AdminApi(api.baseUrl, 'not-the-token');
      const res = await wrong.put(`/nodes/${nodeId}`, { properties: { a: 'b' } });
      expect(res.status).toBe(401);
      expect((await api.get(`/nodes/${nodeId}`)).body.properties).toEqual({});
    });
  });

  it('redacts secrets in answers and events, and keeps a secret that is sent back redacted', async () => {
    const nodeId = nodeName('sec');
    const res = await api.put(`/nodes/${nodeId}`, {
      properties: { db_password: 'hunter2-secret-value', region: 'eu' },
    });
    expect(res.body.properties).toEqual({ db_password: '******', region: 'eu' });
    const again = await api.put(`/nodes/${nodeId}`, {
      properties: { db_password: '******', region: 'us' },
    });
    expect(again.body.version).toBe(2);
    const events = await waitFor('2 events', async () => {
      const e = await eventsOnStream(nc, nodeId);
      return e.length === 2 && e;
    });
    expect(JSON.stringify(events)).not.toContain('hunter2-secret-value');
    expect(JSON.stringify((await api.get(`/nodes/${nodeId}?version=1`)).body)).not.toContain(
      'hunter2',
    );
    // sending the redacted value back kept the stored secret: the change touched region only
    expect(events[1].data).toEqual({ changes: [{ key: 'region', old: 'eu', new: 'us' }] });
  });

  it('refuses to remove a module another one requires (409) and archives a node (then 404)', async () => {
    const nodeId = nodeName('arch');
    await api.put(`/nodes/${nodeId}`, { properties: {} });
    await api.put(`/nodes/${nodeId}/modules/web`, web());
    expect((await api.post(`/nodes/${nodeId}/modules/web/restart`)).body.version).toBe(4);
    const archived = await api.delete(`/nodes/${nodeId}`);
    expect(archived.status).toBe(200);
    expect(archived.body.archived).toBe(true);
    expect((await api.get(`/nodes/${nodeId}`)).status).toBe(404);
    expect((await api.get(`/nodes/${nodeId}?version=4`)).status).toBe(200);
    expect((await api.delete(`/nodes/${nodeId}`)).status).toBe(404);
  });

  // A user's type whose workers are not up yet: stored, and checked by the worker that applies it.
  it('stores a module of a type no live process registered, and the answer says so', async () => {
    const nodeId = nodeName('unreg');
    await api.put(`/nodes/${nodeId}`, { properties: {} });
    const res = await api.put(`/nodes/${nodeId}/modules/x`, {
      type: 'no-such-type',
      config: { anything: 'goes' },
    });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([
      'module type "no-such-type" is not registered by any live process: it is stored unvalidated, and the worker that applies it validates it',
    ]);
    const stored = await api.get(`/nodes/${nodeId}`);
    expect(stored.body.modules).toEqual([
      expect.objectContaining({
        moduleId: 'x',
        type: 'no-such-type',
        config: { anything: 'goes' },
      }),
    ]);
    // a write of a built-in type carries no warning
    expect((await api.put(`/nodes/${nodeId}/modules/web`, web())).body.warnings).toBeUndefined();
  });

  it('lists the module types with their config schema', async () => {
    const res = await api.get('/module-types');
    const http = res.body.find((t: any) => t.type === 'http-endpoint');
    expect(http.config).toEqual(
      expect.arrayContaining([expect.objectContaining({ key: 'port', required: true })]),
    );
  });

  it('serves the OpenAPI document and a health answer', async () => {
    const docs = await fetch(`${cp.url}/docs-json`);
    expect(docs.status).toBe(200);
    expect(Object.keys((await docs.json()).paths)).toContain('/nodes/{nodeId}');
    const health = await api.get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', postgres: 'up', nats: 'up' });
  });
});
