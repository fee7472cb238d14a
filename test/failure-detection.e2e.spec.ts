import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase } from './support/databases';
import { AdminApi, retryingAdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { OwnNatsServer } from './support/nats-server';
import { freePort, waitFor } from './support/ports';
import { spawnControlPlane, SpawnedProcess, spawnWorker, stopProcess } from './support/processes';

/**
 * A process that stops heartbeating is recorded lost exactly once; one that comes back is
 * recorded as rejoined. Built control plane (LOST_AFTER_MS=2000) and workers on a NATS of its own.
 */
describe('failure detection', () => {
  let nats: OwnNatsServer;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: SpawnedProcess & { url: string };
  let api: AdminApi;
  const workers: SpawnedProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'plexus-fd-'));
  const nodeId = `fd-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    nats = await OwnNatsServer.start();
    db = await createTestDatabase();
    cp = await spawnControlPlane({
      DATABASE_URL: db.url,
      NATS_URL: nats.url,
      PORT: await freePort(),
      PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      LOST_AFTER_MS: 2000,
    });
    api = retryingAdminApi(cp.url);
    const port = await freePort();
    writeFileSync(
      join(dir, 'node.properties'),
      `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${port}\n`,
    );
    for (const offset of [0, 100]) {
      workers.push(
        spawnWorker({
          nodeId,
          propertiesFile: join(dir, 'node.properties'),
          portOffset: offset,
          natsUrl: nats.url,
        }),
      );
      await waitFor(
        'the process up',
        async () =>
          (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body.length === workers.length,
        20_000,
        100,
      );
    }
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) {
      if (w.child.signalCode === 'SIGSTOP' || w.child.exitCode === null) w.child.kill('SIGCONT');
      await stopProcess(w, 5000);
    }
    if (cp) await stopProcess(cp, 5000);
    await nats?.dispose();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

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
    // well past lostAfter: still exactly one ProcessLost
    await new Promise((r) => setTimeout(r, 2500));
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
