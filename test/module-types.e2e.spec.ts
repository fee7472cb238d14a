import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePort } from './support/ports';
import { spawnWorker, SpawnedProcess, stopProcess } from './support/processes';

/** A module type package with nothing installed: plain CommonJS, Node built-ins only. */
const PACKAGE = join(__dirname, 'fixtures', 'module-types', 'tiny-echo');

/**
 * A user's module type: a worker loads it from PLEXUS_MODULE_TYPES and publishes it, the control
 * plane validates configs of it against its JSON Schema without loading its code, the worker runs
 * it, and once no live process provides it the control plane stores its configs with a warning.
 */
describe("users' module types (PLEXUS_MODULE_TYPES)", () => {
  let cluster: Cluster;
  let api: AdminApi;
  let worker: SpawnedProcess;
  let port: number;
  const nodeId = `mt-${randomBytes(4).toString('hex')}`;
  const typeEntry = async () =>
    ((await api.get('/module-types')).body as any[]).find((t) => t.type === 'tiny-echo');

  beforeAll(async () => {
    cluster = await startCluster({ controlPlane: { lostAfterMs: 3000 } });
    api = cluster.api;
    port = await freePort();
    expect((await api.put(`/nodes/${nodeId}`, { properties: {} })).status).toBe(201);
  }, 60_000);

  afterAll(() => cluster?.stop(), 60_000);

  it('a worker lists the package’s type in GET /module-types with itself as provider', async () => {
    worker = await cluster.startWorker({ nodeId, env: { PLEXUS_MODULE_TYPES: PACKAGE } });
    const [proc] = (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body;
    const entry = await cluster.until('the type in GET /module-types', async () => {
      const e = await typeEntry();
      return e?.providers.length ? e : null;
    });
    expect(entry).toMatchObject({
      type: 'tiny-echo',
      builtIn: false,
      description: 'answers GET / with its greeting',
      providers: [{ processId: proc.processId, nodeId, version: '1.0.0' }],
      conflicts: [],
      configSchema: {
        type: 'object',
        required: ['port'],
        properties: { port: { type: 'integer', minimum: 1, maximum: 65535 } },
      },
    });
    expect(entry.providers[0].schemaHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('validates a config against the type’s schema: 400 naming the key and the rule', async () => {
    for (const [config, message] of [
      [{ port: '70000' }, 'config.port must be <= 65535'],
      [{ port: 'eighty' }, 'config.port must be integer'],
      [{ greeting: 'hi' }, 'config.port is required'],
      [{ port: String(port), colour: 'red' }, 'config.colour is not a key of this module type'],
    ] as const) {
      const res = await api.put(`/nodes/${nodeId}/modules/echo`, { type: 'tiny-echo', config });
      expect(res.status).toBe(400);
      expect(res.body.message).toBe(message);
    }
    expect((await api.get(`/nodes/${nodeId}`)).body.modules).toEqual([]);
  });

  it('a good config is stored without a warning, and the worker runs it', async () => {
    const res = await api.put(`/nodes/${nodeId}/modules/echo`, {
      type: 'tiny-echo',
      config: { port: String(port), greeting: 'hello from a package' },
    });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toBeUndefined();
    const answer = await cluster.until('the module to answer', async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`).catch(() => null);
      return r?.ok ? r.json() : null;
    });
    expect(answer).toEqual({ greeting: 'hello from a package' });
  });

  it('once its only provider stops, the type leaves the catalogue and writes get a warning', async () => {
    expect(await stopProcess(worker)).toBe(0);
    await cluster.until('the type to leave GET /module-types', async () => !(await typeEntry()));
    const res = await api.patch(`/nodes/${nodeId}/modules/echo/config`, {
      greeting: 'x'.repeat(99),
    });
    expect(res.status).toBe(200);
    expect(res.body.warnings).toEqual([
      'module type "tiny-echo" is not registered by any live process: it is stored unvalidated, and the worker that applies it validates it',
    ]);
  });

  it('the next worker refuses the config nobody could check, and reports it failed', async () => {
    await cluster.startWorker({ nodeId, env: { PLEXUS_MODULE_TYPES: PACKAGE } });
    const failed = await cluster.until('the module to be reported failed', async () => {
      const rollout = (await api.get(`/nodes/${nodeId}/rollout`)).body;
      const states = (rollout.processes ?? []).map((p: any) => p.modules?.echo);
      return states.find((s: any) => s?.state === 'failed') ?? null;
    });
    expect(JSON.stringify(failed)).toContain(
      'config.greeting must NOT have more than 40 characters',
    );
  });

  it('a provider killed without leaving drops out once the failure detector judges it lost', async () => {
    await cluster.until('the second worker in the catalogue', async () => {
      const e = await typeEntry();
      return e?.providers.length === 1;
    });
    const [proc] = (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body;
    cluster.workers[1].child.kill('SIGKILL');
    await cluster.until('the type to leave GET /module-types', async () => !(await typeEntry()));
    const [lost] = (await api.get(`/processes?nodeId=${nodeId}&status=lost`)).body;
    expect(lost.processId).toBe(proc.processId);
  });

  it('a worker whose package does not load, or clashes with a built-in, does not start', async () => {
    const missing = spawnWorker({
      nodeId,
      natsUrl: cluster.natsUrl,
      env: { PLEXUS_MODULE_TYPES: './no/such/package' },
    });
    expect(await missing.exited).toBe(1);
    expect(missing.output()).toMatch(
      /module type package "\.\/no\/such\/package" cannot be loaded/,
    );
    const clash = cluster.writeFile(
      'clash.js',
      `module.exports = { moduleTypes: [{ ...require(${JSON.stringify(PACKAGE)}).moduleTypes[0], name: 'http-endpoint' }] };`,
    );
    const clashing = spawnWorker({
      nodeId,
      natsUrl: cluster.natsUrl,
      env: { PLEXUS_MODULE_TYPES: clash },
    });
    expect(await clashing.exited).toBe(1);
    expect(clashing.output()).toMatch(
      /module type "http-endpoint" of package ".*clash\.js" has the name of a built-in type/,
    );
  });
});
