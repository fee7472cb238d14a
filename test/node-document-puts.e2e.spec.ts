import { randomBytes } from 'node:crypto';
import { KV } from 'nats';
import { nodeDocumentKey, openNodesBucket } from '@plexus/bus';
import { Cluster, startCluster } from './support/cluster-fixture';

/**
 * The leader puts a document it has just committed into the nodes bucket at once, and the relay
 * puts every committed document it reads unless that very version is there already. Whatever the
 * mix of the two paths, the bucket (what every worker watches) must get each version of a node at
 * most once, never an older one after a newer one, and end at the node's current version.
 */
describe('node documents in the bucket: one put per version, in order', () => {
  let cluster: Cluster;
  let kv: KV;
  const nodeId = `puts-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    cluster = await startCluster({ databasePrefix: 'plexus_e2e', natsClient: {} });
    kv = await openNodesBucket(cluster.nc);
  }, 60_000);
  afterAll(() => cluster?.stop());

  /** Every put of the node's key, as a watcher of the bucket (a worker) receives them. */
  const watchPuts = async () => {
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
    const puts = await watchPuts();
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
});
