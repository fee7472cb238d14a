import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { Cluster, SpawnedControlPlane, startCluster } from './support/cluster-fixture';
import { OwnNatsServer } from './support/nats-server';
import { freePortBlock } from './support/ports';
import { servedMessage } from './support/serving-watch';

/**
 * The NATS server comes back empty (kill -9, store wiped, restarted on the same port, as after a
 * replaced node or a lost disk). The control plane must repair it from Postgres: a worker
 * started afterwards gets the current config, and the next change reaches every worker.
 */
const OFFSETS = [0, 100];
/** The bound the issue names for a worker started after the loss. */
const SERVES_WITHIN_MS = 30_000;

describe('a NATS server that lost its store', () => {
  let cluster: Cluster;
  let nats: OwnNatsServer;
  let cp: SpawnedControlPlane;
  let api: AdminApi;
  let file: string;
  const nodeId = `wipe-${randomBytes(4).toString('hex')}`;
  let webPort: number;

  const until = <T>(
    what: string,
    probe: () => Promise<T | undefined | null | false>,
    ms = 30_000,
  ): Promise<T> => cluster.until(what, probe, ms);

  const startWorker = (index: number) =>
    cluster.startWorker({
      nodeId,
      propertiesFile: file,
      portOffset: OFFSETS[index],
      until: 'spawned',
    });
  const serves = (indexes: number[], message: string) => async () => {
    const answers = await Promise.all(indexes.map((i) => servedMessage(webPort + OFFSETS[i])));
    return answers.every((a) => a === message);
  };

  beforeAll(async () => {
    cluster = await startCluster({
      databasePrefix: 'plexus_e2e',
      controlPlane: { logLevel: 'info' },
    });
    nats = cluster.nats!;
    cp = cluster.controlPlane;
    api = cluster.api;
    webPort = await freePortBlock(OFFSETS);
    file = cluster.writeFile(
      'node.properties',
      `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${webPort}\nmodule.web.config.message=from the file\n`,
    );
    await startWorker(0);
    await until('worker 0 serving the file', serves([0], 'from the file'));
  }, 90_000);

  afterAll(() => cluster?.stop(), 60_000);

  it('repairs streams and buckets from Postgres: a worker started afterwards serves the current config, and the next change reaches every worker', async () => {
    const before = await api.patch(`/nodes/${nodeId}/modules/web/config`, {
      message: 'current before the loss',
    });
    expect(before.status).toBe(200);
    await until('worker 0 serving the current config', serves([0], 'current before the loss'));

    // The server dies and comes back with nothing: same port, an empty store.
    await nats.stopProcess();
    for (const entry of readdirSync(nats.storeDir))
      if (entry !== 'nats.log')
        rmSync(join(nats.storeDir, entry), { recursive: true, force: true });
    await nats.startProcess();
    const restartedAt = performance.now();

    await startWorker(1);
    await until(
      'a worker started after the loss serving the current config',
      serves([1], 'current before the loss'),
      SERVES_WITHIN_MS + 10_000,
    );
    const servedMs = performance.now() - restartedAt;
    process.stderr.write(
      `NATS store lost: a new worker served the current config ${Math.round(servedMs)} ms after NATS came back\n`,
    );
    expect(servedMs).toBeLessThan(SERVES_WITHIN_MS);
    // The worker that ran through the loss never stopped serving.
    expect(await servedMessage(webPort + OFFSETS[0])).toBe('current before the loss');

    const next = await api.patch(`/nodes/${nodeId}/modules/web/config`, {
      message: 'the next change',
    });
    expect(next.status).toBe(200);
    await until('the next change on every worker, old and new', serves([0, 1], 'the next change'));

    const metrics = await (
      await fetch(`${cp.url}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(/^plexus_nats_repairs_total [1-9]/m);
    expect(cp.output()).toMatch(/repair/i);
  }, 120_000);
});
