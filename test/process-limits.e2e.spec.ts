import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePort, waitFor } from './support/ports';
import { SpawnedProcess } from './support/processes';

/**
 * A module type that is unsafe with more than one process (local-index: its index lives on this
 * host's disk) limits its node to one process. A second process joining is recorded as
 * ProcessLimitExceeded with the reason and the fix, and its copy of the index refuses to start
 * rather than share the first one's files; the rest of that process keeps running.
 */
describe('a node limited to one process by a local index', () => {
  let cluster: Cluster;
  let api: AdminApi;
  let workers: SpawnedProcess[];
  let propertiesFile: string;
  const nodeId = `lim-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    cluster = await startCluster({ nats: 'shared' });
    api = cluster.api;
    workers = cluster.workers;
    propertiesFile = cluster.writeFile('node.properties', [
      `node.id=${nodeId}`,
      'module.web.type=http-endpoint',
      `module.web.config.port=${await freePort()}`,
      'module.search_index.type=local-index',
      `module.search_index.config.index.path=${join(cluster.dir, 'index')}`,
    ]);
  }, 60_000);

  afterAll(() => cluster?.stop(), 60_000);

  const processes = async () => (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body;

  it('the module type says so in GET /module-types', async () => {
    const types = (await api.get('/module-types')).body;
    expect(types.find((t: any) => t.type === 'local-index')).toMatchObject({ singleProcess: true });
    expect(types.find((t: any) => t.type === 'http-endpoint')).toMatchObject({
      singleProcess: false,
    });
  });

  it('one process runs it; a second one joining is recorded as ProcessLimitExceeded, saying why', async () => {
    for (const portOffset of [0, 100])
      await cluster.startWorker({ nodeId, propertiesFile, portOffset, timeoutMs: 20_000 });
    const second = (await processes()).find((p: any) => p.pid === workers[1].child.pid);
    const [warning] = await waitFor(
      'a ProcessLimitExceeded event',
      async () => {
        const res = await api.get(`/events?nodeId=${nodeId}&type=ProcessLimitExceeded`);
        return res.body.events.length > 0 && res.body.events;
      },
      10_000,
      100,
    );
    expect(warning.data).toMatchObject({
      processId: second.processId,
      processes: 2,
      modules: ['search_index'],
      reason:
        `node "${nodeId}" would run 2 processes, but module "search_index" (local-index) is unsafe ` +
        'with more than one process: set activation to "single" (one process runs it, the others stand by) or keep one process',
    });

    // the first process owns the index; the second's copy refused to start and says why,
    // while its web module runs
    const modules = await waitFor(
      'both processes report their modules',
      async () => {
        const up = await processes();
        const byPid = (pid?: number) => up.find((p: any) => p.pid === pid)?.modules;
        const [a, b] = [byPid(workers[0].child.pid), byPid(workers[1].child.pid)];
        return a?.search_index && b?.search_index && [a, b];
      },
      10_000,
      100,
    );
    expect(modules[0].search_index.state).toBe('running');
    expect(modules[1].search_index).toMatchObject({
      state: 'failed',
      error: expect.stringContaining(`is held by process ${workers[0].child.pid}`),
    });
    expect(modules[1].web.state).toBe('running');
  });

  it('a scaling policy that would allow more than one process is refused with 409, saying why', async () => {
    const refused = await api.put(`/nodes/${nodeId}/scaling`, { min: 1, max: 3, target: 50 });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toBe(
      `node "${nodeId}" would run 3 processes, but module "search_index" (local-index) is unsafe ` +
        'with more than one process: set activation to "single" (one process runs it, the others stand by) or keep one process',
    );
    expect((await api.get(`/nodes/${nodeId}/scaling`)).body.policy).toBeNull();
    const one = await api.put(`/nodes/${nodeId}/scaling`, { min: 1, max: 1, target: 50 });
    expect(one.status).toBe(200);
    expect(one.body.policy).toMatchObject({ min: 1, max: 1 });

    // run active/passive, the index no longer limits the node: one process runs it
    const single = await api.put(`/nodes/${nodeId}/modules/search_index`, {
      type: 'local-index',
      config: { 'index.path': join(cluster.dir, 'index') },
      activation: 'single',
    });
    expect(single.status).toBe(200);
    const three = await api.put(`/nodes/${nodeId}/scaling`, { min: 1, max: 3, target: 50 });
    expect(three.status).toBe(200);
    const states = await waitFor(
      'the index running on one process, standing by on the other',
      async () => {
        const all = (await processes()).map((p: any) => p.modules?.search_index?.state).sort();
        return all.join() === 'running,standby' && all;
      },
      15_000,
      100,
    );
    expect(states).toEqual(['running', 'standby']);
  });
});
