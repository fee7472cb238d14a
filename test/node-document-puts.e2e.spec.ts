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

  it('sequential and concurrent writes each reach the bucket once, newest last', async () => {
    const { api } = cluster;
    const puts = await watchPuts(nodeId);
    expect((await api.put(`/nodes/${nodeId}`, { properties: {} })).status).toBe(201);
    await api.put(`/nodes/${nodeId}/modules/web`, {
      type: 'http-endpoint',
      config: { port: '8000', message: 'start' },
    });
    for (let i = 0; i < 20; i++)
      await api.patch(`/nodes/${nodeId}/modules/web/config`, { message: `one-${i}` });
    // writes of one node racing each other: group commit, stale cache, the locked path
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        api.patch(`/nodes/${nodeId}/modules/web/config`, { message: `many-${i}` }),
      ),
    );
    const { version } = (await api.get<{ version: number }>(`/nodes/${nodeId}`)).body;
    expect(version).toBe(38);

    await cluster.until(
      'the bucket at the node version',
      async () => puts.versions.at(-1) === version,
    );
    await new Promise((resolve) => setTimeout(resolve, 500)); // a late duplicate would show now
    puts.stop();
    const versions = puts.versions;
    // strictly increasing: no version twice, none going back
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]);
  });

  /** plexus_relay_direct_puts_total{origin} on one replica's /metrics. */
  const directPuts = async (api: AdminApi, origin: 'local' | 'standby') => {
    const text = (await api.get<string>('/metrics')).body;
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`plexus_relay_direct_puts_total{origin="${origin}"}`));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  it("writes through a standby replica reach the bucket by the leader's fast path, once each, newest last", async () => {
    const leaderApi = new AdminApi(cluster.controlPlane.url);
    const standby = await cluster.startControlPlane();
    const standbyApi = new AdminApi(standby.url);
    expect((await relayLeader([leaderApi, standbyApi])).api).toBe(leaderApi);
    const localBefore = await directPuts(leaderApi, 'local');

    const viaStandby = `puts-${run}-standby`;
    const puts = await watchPuts(viaStandby);
    expect((await standbyApi.put(`/nodes/${viaStandby}`, { properties: {} })).status).toBe(201);
    await standbyApi.put(`/nodes/${viaStandby}/modules/web`, {
      type: 'http-endpoint',
      config: { port: '8000', message: 'start' },
    });
    for (let i = 0; i < 20; i++) {
      const res = await standbyApi.patch(`/nodes/${viaStandby}/modules/web/config`, {
        message: `one-${i}`,
      });
      expect(res.status).toBe(200);
    }
    // the standby and the leader writing the node at once
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        (i % 2 ? standbyApi : leaderApi).patch(`/nodes/${viaStandby}/modules/web/config`, {
          message: `many-${i}`,
        }),
      ),
    );
    const { version } = (await leaderApi.get<{ version: number }>(`/nodes/${viaStandby}`)).body;
    expect(version).toBe(38);

    await cluster.until(
      'the bucket at the node version',
      async () => puts.versions.at(-1) === version,
    );
    await new Promise((resolve) => setTimeout(resolve, 500)); // a late duplicate would show now
    puts.stop();
    for (let i = 1; i < puts.versions.length; i++)
      expect(puts.versions[i]).toBeGreaterThan(puts.versions[i - 1]);
    // The first versions go by the relay (the leader learns the key's revision from its own put);
    // after that, the standby's one-at-a-time writes go by the fast path.
    expect(await directPuts(leaderApi, 'standby')).toBeGreaterThanOrEqual(15);
    expect(await directPuts(standbyApi, 'standby')).toBe(0); // a standby puts nothing itself
    expect(await directPuts(leaderApi, 'local')).toBeGreaterThanOrEqual(localBefore);
  });
});
