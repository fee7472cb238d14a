import { randomBytes } from 'node:crypto';
import { createTestDatabase } from './support/databases';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';

const web = (port: number, message: string) => ({
  type: 'http-endpoint',
  config: { port: String(port), message },
});

describe('config history: time travel, diff, revert (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  const nodeId = `hist-${randomBytes(4).toString('hex')}`;
  const times: Record<number, string> = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane({ databaseUrl: db.url });
    api = cp.api;
    const steps: [string, string, unknown?][] = [
      ['PUT', `/nodes/${nodeId}`, { properties: { region: 'eu', db_password: 'first-secret' } }],
      ['PUT', `/nodes/${nodeId}/modules/web`, web(8000, 'one')],
      ['PATCH', `/nodes/${nodeId}/modules/web/config`, { message: 'two' }],
      ['PUT', `/nodes/${nodeId}/modules/api`, web(8001, 'api')],
      ['PUT', `/nodes/${nodeId}`, { properties: { region: 'us', db_password: 'second-secret' } }],
      ['DELETE', `/nodes/${nodeId}/modules/web`],
    ];
    for (const [method, path, body] of steps) {
      const res = await api.request(method, path, body);
      expect(res.status).toBeLessThan(300);
      times[res.body.version] = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 15)); // distinct recorded times for asOf
    }
  });
  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  it('rebuilds the document at several versions and moments', async () => {
    const expectations: [number, string[], string][] = [
      [1, [], 'eu'],
      [2, ['web'], 'eu'],
      [4, ['web', 'api'], 'eu'],
      [5, ['web', 'api'], 'us'],
      [6, ['api'], 'us'],
    ];
    for (const [version, modules, region] of expectations) {
      const byVersion = await api.get(`/nodes/${nodeId}?version=${version}`);
      expect(byVersion.body.version).toBe(version);
      expect(byVersion.headers.get('etag')).toBe(`"${version}"`);
      expect(byVersion.body.modules.map((m: any) => m.moduleId)).toEqual(modules);
      expect(byVersion.body.properties).toEqual({ region, db_password: '******' });
      const byTime = await api.get(`/nodes/${nodeId}?asOf=${encodeURIComponent(times[version])}`);
      expect(byTime.body.version).toBe(version);
    }
    expect((await api.get(`/nodes/${nodeId}?version=2`)).body.modules[0].config.message).toBe(
      'one',
    );
    expect((await api.get(`/nodes/${nodeId}?version=3`)).body.modules[0].config.message).toBe(
      'two',
    );
    expect((await api.get(`/nodes/${nodeId}?asOf=2001-01-01T00:00:00Z`)).status).toBe(404);
    expect((await api.get(`/nodes/${nodeId}?asOf=yesterday`)).status).toBe(400);
  });

  it('diffs two versions: modules added, removed and changed, properties, secrets redacted', async () => {
    const res = await api.get(`/nodes/${nodeId}/diff?from=2&to=6`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ nodeId, from: 2, to: 6 });
    expect(res.body.properties).toEqual([
      { key: 'db_password', old: '******', new: '******', secret: true },
      { key: 'region', old: 'eu', new: 'us' },
    ]);
    expect(res.body.modulesAdded.map((m: any) => m.moduleId)).toEqual(['api']);
    expect(res.body.modulesRemoved.map((m: any) => m.moduleId)).toEqual(['web']);
    const changed = await api.get(`/nodes/${nodeId}/diff?from=2&to=3`);
    expect(changed.body.modulesChanged).toEqual([
      { moduleId: 'web', config: [{ key: 'message', old: 'one', new: 'two' }] },
    ]);
    expect(JSON.stringify(res.body)).not.toContain('secret-');
    expect((await api.get(`/nodes/${nodeId}/diff`)).status).toBe(400);
    expect((await api.get(`/nodes/${nodeId}/diff?from=2&to=99`)).status).toBe(404);
  });

  it('reverts with forward events that restore an earlier configuration, secrets included', async () => {
    const before = await api.get(`/nodes/${nodeId}`);
    const res = await api.post(`/nodes/${nodeId}/revert`, {
      toVersion: 3,
      reason: 'the api module was a mistake',
    });
    expect(res.status).toBe(200);
    expect(res.body.version).toBeGreaterThan(before.body.version);
    expect(res.body.modules.map((m: any) => [m.moduleId, m.config.message])).toEqual([
      ['web', 'two'],
    ]);
    expect(res.body.properties.region).toBe('eu');
    // the restored document equals version 3's configuration; the secret came back too
    const diff = await api.get(`/nodes/${nodeId}/diff?from=3&to=${res.body.version}`);
    expect(diff.body).toMatchObject({
      properties: [],
      modulesAdded: [],
      modulesRemoved: [],
      modulesChanged: [],
    });
    // history was not rewritten
    expect(
      (await api.get(`/nodes/${nodeId}?version=6`)).body.modules.map((m: any) => m.moduleId),
    ).toEqual(['api']);
    const again = await api.post(`/nodes/${nodeId}/revert`, { toVersion: 3, reason: 'twice' });
    expect(again.body.changed).toBe(false);
  });

  it('refuses a revert without a reason or to a version that does not exist', async () => {
    const version = (await api.get(`/nodes/${nodeId}`)).body.version;
    expect((await api.post(`/nodes/${nodeId}/revert`, { toVersion: 2 })).status).toBe(400);
    expect((await api.post(`/nodes/${nodeId}/revert`, { toVersion: 0, reason: 'x' })).status).toBe(
      400,
    );
    expect(
      (await api.post(`/nodes/${nodeId}/revert`, { toVersion: 999, reason: 'x' })).status,
    ).toBe(404);
    expect((await api.get(`/nodes/${nodeId}`)).body.version).toBe(version);
  });
});
