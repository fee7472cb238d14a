import { randomBytes } from 'node:crypto';
import { eventsOnStream } from './support/event-stream';
import { AdminApi, retryingAdminApi } from './support/control-plane';
import { Cluster, SpawnedControlPlane, startCluster } from './support/cluster-fixture';
import { committedOpenApi, OpenApiContract } from './support/openapi-contract';
import { waitFor } from './support/ports';

const BOOTSTRAP = `bootstrap-${randomBytes(12).toString('hex')}`;
const PLAINTEXT = `pw-${randomBytes(12).toString('hex')}`;
/** Every answer these tests get is checked against the committed document. */
const contract = new OpenApiContract(committedOpenApi());

/**
 * The admin API lets in only who it should, and a configured password's plaintext appears in no
 * answer, event or log line. Runs the built control plane, logging at debug level.
 */
describe('admin API security (built control plane)', () => {
  let cluster: Cluster;
  let cp: SpawnedControlPlane;
  let admin: AdminApi;
  let operator: AdminApi;
  let auditor: AdminApi;
  let operatorTokenId: string;
  const nodeId = `sec-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    cluster = await startCluster({
      nats: 'shared',
      natsClient: {},
      controlPlane: {
        adminToken: BOOTSTRAP,
        logLevel: 'debug',
        // One test sends a wrong token to every route, from this one address: more than the
        // default limit on refused tokens (auth-failure-limit.int.spec.ts tests that limit).
        env: { PLEXUS_AUTH_FAILURE_LIMIT: '1000' },
      },
    });
    cp = cluster.controlPlane;
    admin = cluster.api.validateAgainst(contract);
    const op = await admin.post('/tokens', { name: 'ops-oncall', role: 'operator' });
    const au = await admin.post('/tokens', { name: 'audit-team', role: 'auditor' });
    expect([op.status, au.status]).toEqual([201, 201]);
    operator = retryingAdminApi(cp.url, op.body.token).validateAgainst(contract);
    auditor = retryingAdminApi(cp.url, au.body.token).validateAgainst(contract);
    operatorTokenId = op.body.id;
    await admin.put(`/nodes/${nodeId}`, { properties: { 'db.password': PLAINTEXT, region: 'eu' } });
    await admin.put(`/nodes/${nodeId}/modules/web`, {
      type: 'http-endpoint',
      config: { port: '8000' },
    });
  });
  afterAll(() => cluster?.stop());

  it('answers every documented read as the document declares, status and body', async () => {
    const doc = committedOpenApi();
    // A stream (GET /watch) never ends: test/watch.int.spec.ts reads it as a stream.
    const streams = (methods: any) =>
      Boolean(methods.get?.responses?.['200']?.content?.['text/event-stream']);
    const reads = Object.entries(doc.paths)
      .filter(([, methods]) => 'get' in methods && !streams(methods))
      .map(([path]) => path);
    expect(reads.length).toBeGreaterThan(20);
    const query: Record<string, string> = { '/nodes/{nodeId}/diff': '?from=1' };
    for (const template of reads) {
      const path =
        template
          .replace('{nodeId}', nodeId)
          .replace('{moduleId}', 'web')
          .replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000') + (query[template] ?? '');
      const res = await admin.get(path); // the contract checks status and body
      expect([template, res.status < 500 || res.status === 503]).toEqual([template, true]);
    }
  });

  it('answers 401 on every admin route without a token or with a wrong one', async () => {
    const doc = await (await fetch(`${cp.url}/docs-json`)).json();
    const calls: [string, string][] = [];
    for (const [path, methods] of Object.entries<Record<string, unknown>>(doc.paths)) {
      if (path === '/health') continue;
      const concrete = path
        .replace('{nodeId}', nodeId)
        .replace('{moduleId}', 'web')
        .replace('{action}', 'restart')
        .replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      for (const method of Object.keys(methods)) calls.push([method.toUpperCase(), concrete]);
    }
    expect(calls.length).toBeGreaterThan(10);
    for (const token of [null, 'wrong-token']) {
      const api = retryingAdminApi(cp.url, token).validateAgainst(contract);
      for (const [method, path] of calls) {
        const res = await api.request(
          method,
          path,
          method === 'GET' || method === 'DELETE' ? undefined : {},
        );
        expect([method, path, res.status]).toEqual([method, path, 401]);
      }
    }
    expect((await admin.get(`/nodes/${nodeId}`)).body.version).toBe(2);
  });

  it('lets an auditor read config and events but write nothing', async () => {
    expect((await auditor.get(`/nodes/${nodeId}`)).status).toBe(200);
    expect((await auditor.get('/nodes')).status).toBe(200);
    expect((await auditor.get(`/events?nodeId=${nodeId}`)).status).toBe(200);
    const writes = [
      () => auditor.put(`/nodes/${nodeId}`, { properties: {} }),
      () => auditor.patch(`/nodes/${nodeId}/modules/web/config`, { message: 'x' }),
      () => auditor.post(`/nodes/${nodeId}/modules/web/restart`),
      () => auditor.delete(`/nodes/${nodeId}`),
      () => auditor.post('/tokens', { name: 'sneaky', role: 'admin' }),
    ];
    for (const write of writes) {
      const res = await write();
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/role auditor may not/);
    }
    expect((await auditor.get('/tokens')).status).toBe(403);
    expect((await admin.get(`/nodes/${nodeId}`)).body.version).toBe(2);
  });

  it('lets an operator start, stop and restart modules, recorded under its name, but not change config', async () => {
    for (const res of [
      await operator.put(`/nodes/${nodeId}`, { properties: {} }),
      await operator.patch(`/nodes/${nodeId}/modules/web/config`, { message: 'x' }),
      await operator.put(`/nodes/${nodeId}/modules/web2`, {
        type: 'http-endpoint',
        config: { port: '1' },
      }),
      await operator.delete(`/nodes/${nodeId}/modules/web`),
    ])
      expect(res.status).toBe(403);
    const restarted = await operator.post(`/nodes/${nodeId}/modules/web/restart`);
    expect(restarted.status).toBe(200);
    expect(restarted.body.version).toBe(4);
    const events = await waitFor(
      'four events on the stream',
      async () => {
        const got = await eventsOnStream(cluster.nc, nodeId);
        return got.length >= 4 && got;
      },
      5000,
      100,
    );
    expect(events.map((e) => [e.version, e.metadata.actor])).toEqual([
      [1, 'admin'],
      [2, 'admin'],
      [3, 'ops-oncall'],
      [4, 'ops-oncall'],
    ]);
  });

  it('lists tokens without their secret, and a revoked token is refused at once', async () => {
    const list = await admin.get('/tokens');
    expect(list.body.map((t: any) => [t.name, t.role])).toEqual([
      ['ops-oncall', 'operator'],
      ['audit-team', 'auditor'],
    ]);
    expect(JSON.stringify(list.body)).not.toMatch(/plx_|sha256/);
    expect((await admin.post('/tokens', { name: 'ops-oncall', role: 'auditor' })).status).toBe(409);
    expect((await admin.post('/tokens', { name: 'bad name', role: 'admin' })).body.message).toMatch(
      /name must be/,
    );
    expect((await admin.post('/tokens', { name: 'x', role: 'root' })).body.message).toMatch(
      /role must be/,
    );
    expect((await admin.delete(`/tokens/${operatorTokenId}`)).status).toBe(200);
    expect((await operator.get('/nodes')).status).toBe(401);
  });

  it('never shows the plaintext of a configured password in answers, events or logs', async () => {
    const answers = await Promise.all([
      admin.get(`/nodes/${nodeId}`),
      admin.get(`/nodes/${nodeId}?version=1`),
      admin.get('/nodes'),
      admin.get(`/nodes/${nodeId}/diff?from=1&to=2`),
      admin.get(`/events?nodeId=${nodeId}`),
      admin.get(`/events?nodeId=${nodeId}&format=ndjson`),
      admin.get('/module-config/properties'),
      admin.put(`/nodes/${nodeId}`, {
        properties: { 'db.password': `${PLAINTEXT}-2`, region: 'eu' },
      }),
    ]);
    for (const res of answers) expect(res.status).toBe(200);
    expect(answers[0].body.properties['db.password']).toBe('******');
    const published = JSON.stringify(await eventsOnStream(cluster.nc, nodeId));
    expect(published).toContain('db.password');
    for (const text of [...answers.map((a) => JSON.stringify(a.body)), published, cp.output()])
      expect(text).not.toContain(PLAINTEXT);
    expect(cp.output()).not.toContain(BOOTSTRAP);
  });
});
