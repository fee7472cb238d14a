import { randomBytes } from 'node:crypto';
import { KV } from 'nats';
import { nodeDocumentKey, openNodesBucket } from '@plexus/bus';
import { Cluster, startCluster } from './support/cluster-fixture';
import { AdminApi } from './support/control-plane';
import { relayLeader } from './support/leader-lease';

/**
 * The leader puts a document it has just committed into the nodes bucket at once, and the relay
 * puts every committed document it reads unless that very version is there already. Whatever the
 * mix of the two paths, the bucket (what every worker watches) must get each version of a node at
 * most once, never an older one after a newer one, and end at the node's current version. A
 * standby replica sends what it commits to the leader, which puts it by the same fast path.
 */
describe('node documents in the bucket: one put per version, in order', () => {
  let cluster: Cluster;
  let kv: KV;
  const run = randomBytes(4).toString('hex');
  const nodeId = `puts-${run}`;

  beforeAll(async () => {
    cluster = await startCluster({ databasePrefix: 'plexus_e2e', natsClient: {} });
    kv = await openNodesBucket(cluster.nc);
  }, 60_000);
  afterAll(() => cluster?.stop());

  /** Every put of the node's key, as a watcher of the bucket (a worker) receives them. */
  const watchPuts = async (nodeId: string) => {
    const versions: number[] = [];
    const watch = await kv.watch({ key: nodeDocumentKey(nodeId) });
    void (async () => {
      for await (const entry of watch)
        if (entry.operation === 'PUT') versions.push((entry.json() as { version: number }).version);
    })();
    return { versions, stop: () => watch.stop() };
  };

  /**
   * Creates the node with one module, changes it 20 times one after the other through `first`,
   * then 16 times at once, alternating over `apis` (racing each other: group commit, stale cache,
   * the locked path). Then waits until the bucket holds the node's version and checks what the
   * bucket's watcher got: strictly increasing versions, so none twice and none going back.
   */
  const writeAndCheckPuts = async (id: string, [first, ...others]: AdminApi[]) => {
    const puts = await watchPuts(id);
    expect((await first.put(`/nodes/${id}`, { properties: {} })).status).toBe(201);
    await first.put(`/nodes/${id}/modules/web`, {
      type: 'http-endpoint',
      config: { port: '8000', message: 'start' },
    });
    for (let i = 0; i < 20; i++) {
      const res = await first.patch(`/nodes/${id}/modules/web/config`, { message: `one-${i}` });
      expect(res.status).toBe(200);
    }
    const apis = [first, ...others];
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        apis[i % apis.length].patch(`/nodes/${id}/modules/web/config`, { message: `many-${i}` }),
      ),
    );
    const { version } = (await first.get<{ version: number }>(`/nodes/${id}`)).body;
    expect(version).toBe(38);

    await cluster.until(
      'the bucket at the node version',
      async () => puts.versions.at(-1) === version,
    );
    await new Promise((resolve) => setTimeout(resolve, 500)); // a late duplicate would show now
    puts.stop();
    for (let i = 1; i < puts.versions.length; i++)
      expect(puts.versions[i]).toBeGreaterThan(puts.versions[i - 1]);
  };

  /** plexus_relay_direct_puts_total{origin} on one replica's /metrics. */
  const directPuts = async (api: AdminApi, origin: 'local' | 'standby') => {
    const text = (await api.get<string>('/metrics')).body;
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`plexus_relay_direct_puts_total{origin="${origin}"}`));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  it('sequential and concurrent writes each reach the bucket once, newest last', async () => {
    const leaderApi = new AdminApi(cluster.controlPlane.url);
    await writeAndCheckPuts(nodeId, [leaderApi]);
    // After the first versions (the relay's puts teach the leader the key's revision), the
    // one-at-a-time writes go by the fast path.
    expect(await directPuts(leaderApi, 'local')).toBeGreaterThanOrEqual(15);
  });

  it("writes through a standby replica reach the bucket by the leader's fast path, once each, newest last", async () => {
    const leaderApi = new AdminApi(cluster.controlPlane.url);
    const standby = await cluster.startControlPlane();
    const standbyApi = new AdminApi(standby.url);
    expect((await relayLeader([leaderApi, standbyApi])).api).toBe(leaderApi);

    // through the standby, then the standby and the leader writing the node at once
    await writeAndCheckPuts(`puts-${run}-standby`, [standbyApi, leaderApi]);
    expect(await directPuts(leaderApi, 'standby')).toBeGreaterThanOrEqual(15);
    expect(await directPuts(standbyApi, 'local')).toBe(0); // a standby puts nothing itself
    expect(await directPuts(standbyApi, 'standby')).toBe(0);
  });
});
