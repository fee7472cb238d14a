import { randomBytes } from 'node:crypto';
import { sleep } from '@plexus/common';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePort, waitFor } from './support/ports';
import { SpawnedProcess } from './support/processes';

/**
 * A process that stops heartbeating is recorded lost exactly once; one that comes back is
 * recorded as rejoined. Built control plane (LOST_AFTER_MS=2000) and workers on a NATS of its own.
 */
describe('failure detection', () => {
  let cluster: Cluster;
  let api: AdminApi;
  let workers: SpawnedProcess[];
  const nodeId = `fd-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    cluster = await startCluster({ controlPlane: { lostAfterMs: 2000 } });
    api = cluster.api;
    const propertiesFile = cluster.writeFile(
      'node.properties',
      `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${await freePort()}\n`,
    );
    for (const portOffset of [0, 100])
      await cluster.startWorker({ nodeId, propertiesFile, portOffset, timeoutMs: 20_000 });
    workers = cluster.workers;
  }, 60_000);

  afterAll(() => cluster?.stop(), 60_000);

  const processOf = async (pid: number) =>
    (await api.get(`/processes?nodeId=${nodeId}`)).body.find((p: any) => p.pid === pid);
  const eventsOf = async (type: string, processId: string) =>
    (await api.get(`/events?type=${type}&nodeId=${nodeId}`)).body.events.filter(
      (e: any) => e.data.processId === processId,
    );

  it('records a process that stops heartbeating (SIGSTOP) as lost once, then as rejoined when it resumes', async () => {
    const paused = workers[1];
    const before = await processOf(paused.child.pid!);
    paused.child.kill('SIGSTOP');
    await waitFor(
      'the paused process listed lost',
      async () => (await processOf(paused.child.pid!))?.status === 'lost',
      15_000,
      100,
    );
    // well past lostAfter: still exactly one ProcessLost (a fixed wait: that nothing more
    // happens in it is what is tested)
    await sleep(2500);
    expect(await eventsOf('ProcessLost', before.processId)).toHaveLength(1);
    expect((await processOf(workers[0].child.pid!)).status).toBe('up');

    paused.child.kill('SIGCONT');
    await waitFor(
      'the resumed process listed up',
      async () => (await processOf(paused.child.pid!))?.status === 'up',
      15_000,
      100,
    );
    const joins = await eventsOf('ProcessJoined', before.processId);
    expect(joins.map((e: any) => Boolean(e.data.rejoined))).toEqual([true, false]); // newest first
  });

  it('records a killed process (kill -9) as lost, with when it was last heard from', async () => {
    const killed = workers[0];
    const { processId } = await processOf(killed.child.pid!);
    killed.child.kill('SIGKILL');
    await waitFor(
      'the killed process listed lost',
      async () => (await processOf(killed.child.pid!))?.status === 'lost',
      15_000,
      100,
    );
    const [lost] = await eventsOf('ProcessLost', processId);
    expect(lost.metadata.actor).toBe('control-plane');
    expect(Date.parse(lost.data.lastSeenAt)).toBeLessThanOrEqual(Date.parse(lost.recordedAt));
    expect((await processOf(workers[1].child.pid!)).status).toBe('up');
  });
});
