import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase } from './support/databases';
import { AdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { OwnNatsServer } from './support/nats-server';
import { freePort, waitFor } from './support/ports';
import { spawnControlPlane, SpawnedProcess, spawnWorker, stopProcess } from './support/processes';
import { validSignature, WebhookReceiver } from './support/webhook-receiver';

/**
 * Process events reach a webhook: the built control plane (LOST_AFTER_MS=2000) and two worker
 * processes on a NATS of their own, and an HTTP receiver in this test process.
 */
describe('webhooks end to end', () => {
  let nats: OwnNatsServer;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: SpawnedProcess & { url: string };
  let api: AdminApi;
  let target: WebhookReceiver;
  const workers: SpawnedProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'plexus-hooks-'));
  const nodeId = `wh-${randomBytes(4).toString('hex')}`;
  const secret = `e2e-hook-secret-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    nats = await OwnNatsServer.start();
    db = await createTestDatabase();
    target = await WebhookReceiver.start();
    cp = await spawnControlPlane({
      DATABASE_URL: db.url,
      NATS_URL: nats.url,
      PORT: await freePort(),
      PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      LOST_AFTER_MS: 2000,
    });
    api = new AdminApi(cp.url);
    const hook = await api.post('/hooks', {
      url: target.url,
      events: ['ProcessJoined', 'ProcessLost'],
      secret,
    });
    expect(hook.status).toBe(201);
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
    for (const w of workers) await stopProcess(w, 5000);
    if (cp) await stopProcess(cp, 5000);
    await target?.close();
    await nats?.dispose();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const processOf = async (pid: number) =>
    (await api.get(`/processes?nodeId=${nodeId}`)).body.find((p: any) => p.pid === pid);
  const delivered = (type: string, processId: string) =>
    target.received.filter(
      (r) => r.body?.event?.type === type && r.body.event.data.processId === processId,
    );

  it('sends a signed ProcessJoined for every process that joins', async () => {
    for (const w of workers) {
      const { processId } = await processOf(w.child.pid!);
      const [joined] = await waitFor('ProcessJoined delivered', async () => {
        const got = delivered('ProcessJoined', processId);
        return got.length > 0 && got;
      });
      expect(validSignature(secret, joined.raw, joined.headers['x-plexus-signature'])).toBe(true);
      expect(joined.body.event).toMatchObject({ nodeId, data: { processId, pid: w.child.pid } });
    }
  });

  it('sends exactly one signed ProcessLost when a process is killed (kill -9)', async () => {
    const killed = workers[0];
    const { processId } = await processOf(killed.child.pid!);
    killed.child.kill('SIGKILL');
    const [lost] = await waitFor(
      'ProcessLost delivered',
      async () => {
        const got = delivered('ProcessLost', processId);
        return got.length > 0 && got;
      },
      15_000,
      50,
    );
    expect(validSignature(secret, lost.raw, lost.headers['x-plexus-signature'])).toBe(true);
    expect(lost.headers['x-plexus-event']).toBe('ProcessLost');
    expect(lost.headers['x-plexus-delivery']).toBe(lost.body.deliveryId);
    expect(lost.body.event).toMatchObject({
      nodeId,
      type: 'ProcessLost',
      data: { processId },
      metadata: { actor: 'control-plane' },
    });

    // Well past LOST_AFTER_MS again: still exactly one, and the other process is not lost.
    await new Promise((r) => setTimeout(r, 2500));
    expect(delivered('ProcessLost', processId)).toHaveLength(1);
    const other = await processOf(workers[1].child.pid!);
    expect(delivered('ProcessLost', other.processId)).toHaveLength(0);
    const [hook] = (await api.get('/hooks')).body;
    const deliveries = (await api.get(`/hooks/${hook.id}/deliveries`)).body;
    expect(deliveries[0]).toMatchObject({
      deliveryId: lost.body.deliveryId,
      eventType: 'ProcessLost',
      status: 'succeeded',
      attempts: 1,
    });
  });
});
