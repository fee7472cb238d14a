import { randomBytes } from 'node:crypto';
import { sleep } from '@plexus/common';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePort, waitFor } from './support/ports';
import { SpawnedProcess } from './support/processes';
import { validSignature, WebhookReceiver } from './support/webhook-receiver';

/**
 * Process events reach a webhook: the built control plane (LOST_AFTER_MS=2000) and worker
 * processes on a NATS of their own, and an HTTP receiver in this test process.
 */
describe('webhooks end to end', () => {
  let cluster: Cluster;
  let api: AdminApi;
  let target: WebhookReceiver;
  let workers: SpawnedProcess[];
  let propertiesFile: string;
  const nodeId = `wh-${randomBytes(4).toString('hex')}`;
  const secret = `e2e-hook-secret-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    target = await WebhookReceiver.start();
    cluster = await startCluster({
      controlPlane: {
        lostAfterMs: 2000,
        // quick retries and a breaker that lets a trial through after a second, for the outage test
        env: {
          WEBHOOK_RETRY_BASE_MS: '100',
          WEBHOOK_RETRY_CAP_MS: '400',
          WEBHOOK_BREAKER_RESET_MS: '1000',
          // the receiver listens on 127.0.0.1, which the default target policy refuses
          WEBHOOK_ALLOWED_HOSTS: 'loopback',
        },
      },
    });
    api = cluster.api;
    const hook = await api.post('/hooks', {
      url: target.url,
      events: ['ProcessJoined', 'ProcessLost'],
      secret,
    });
    expect(hook.status).toBe(201);
    propertiesFile = cluster.writeFile(
      'node.properties',
      `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${await freePort()}\n`,
    );
    for (const portOffset of [0, 100])
      await cluster.startWorker({ nodeId, propertiesFile, portOffset, timeoutMs: 20_000 });
    workers = cluster.workers;
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await target?.close();
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

    // Well past LOST_AFTER_MS again: still exactly one, and the other process is not lost (a
    // fixed wait: that nothing more arrives in it is what is tested).
    await sleep(2500);
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

  it('keeps retrying a target that is down, opens the breaker, and delivers the backlog once it is back', async () => {
    const [hook] = (await api.get('/hooks')).body;
    target.status = 500;
    // a third process joins and is killed while the target answers 500
    const third = await cluster.startWorker({
      nodeId,
      propertiesFile,
      portOffset: 200,
      timeoutMs: 20_000,
    });
    const { processId } = await processOf(third.child.pid!);
    third.child.kill('SIGKILL');
    // the ProcessJoined delivery is retried and the breaker opens; the ProcessLost waits behind it
    const held = await waitFor(
      'the breaker open on the pending delivery',
      async () => {
        const deliveries = (await api.get(`/hooks/${hook.id}/deliveries`)).body as any[];
        const joined = deliveries.find(
          (d) => d.eventType === 'ProcessJoined' && d.status === 'pending' && d.attempts >= 2,
        );
        return joined?.outcomes.some((o: any) => o.outcome === 'breaker-open') && joined;
      },
      20_000,
      100,
    );
    expect(held.outcomes.filter((o: any) => o.outcome === 'http-error').length).toBeGreaterThan(1);
    await waitFor(
      'ProcessLost recorded for the killed process',
      async () => (await processOf(third.child.pid!))?.status === 'lost',
      15_000,
      100,
    );
    expect(delivered('ProcessLost', processId).filter((r) => r.status === 200)).toHaveLength(0);

    // the target is back: the backlog arrives, each event once, in order, signed
    target.status = 200;
    const [joinedOk, lostOk] = await waitFor(
      'the backlog delivered',
      async () => {
        const joined = delivered('ProcessJoined', processId).filter((r) => r.status === 200);
        const lost = delivered('ProcessLost', processId).filter((r) => r.status === 200);
        return joined.length === 1 && lost.length === 1 && [joined[0], lost[0]];
      },
      20_000,
      100,
    );
    expect(joinedOk.receivedAt).toBeLessThanOrEqual(lostOk.receivedAt);
    expect(joinedOk.body.deliveryId).toBe(held.deliveryId); // the same delivery, retried
    for (const r of [joinedOk, lostOk])
      expect(validSignature(secret, r.raw, r.headers['x-plexus-signature'])).toBe(true);
    const deliveries = (await api.get(`/hooks/${hook.id}/deliveries`)).body as any[];
    expect(deliveries.find((d) => d.deliveryId === held.deliveryId)).toMatchObject({
      status: 'succeeded',
    });
  }, 60_000);
});
