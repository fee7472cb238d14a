import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import {
  announceMembership,
  Heartbeat,
  openScalingBucket,
  publishHeartbeat,
  readDesiredProcesses,
} from '@plexus/bus';
import { ProcessIdentity } from '@plexus/domain';
import { createTestDatabase } from './support/databases';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { committedOpenApi } from './support/openapi-contract';
import { waitFor } from './support/ports';

const nodeName = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

describe('scaling policy API and autoscaler (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  let nc: NatsConnection;

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane({ databaseUrl: db.url });
    // Every answer, the 412 included, is checked against the committed document.
    api = cp.api.validateAgainst(committedOpenApi());
    nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
  });

  afterAll(async () => {
    await nc?.close();
    await cp?.close();
    await db?.drop();
  });

  const createNode = async (label: string) => {
    const nodeId = nodeName(label);
    expect((await api.put(`/nodes/${nodeId}`, { properties: {} })).status).toBe(201);
    return nodeId;
  };
  const eventsOf = async (nodeId: string, type: string) =>
    (await api.get(`/events?nodeId=${nodeId}&type=${type}`)).body.events as any[];

  it('answers 404 for a node that does not exist or is archived', async () => {
    const policy = { min: 1, max: 3, target: 50 };
    const missing = await api.put(`/nodes/${nodeName('none')}/scaling`, policy);
    expect(missing.status).toBe(404);
    expect(missing.body.message).toMatch(/does not exist/);
    expect((await api.get(`/nodes/${nodeName('none')}/scaling`)).status).toBe(404);

    const nodeId = await createNode('arch');
    await api.delete(`/nodes/${nodeId}`);
    expect((await api.put(`/nodes/${nodeId}/scaling`, policy)).status).toBe(404);
  });

  it('refuses a bad policy with a 400 naming the field, and stores nothing', async () => {
    const nodeId = await createNode('bad');
    const cases: [unknown, RegExp][] = [
      [{ min: -1, max: 3, target: 50 }, /^min must be an integer/],
      [{ min: 2, max: 1, target: 50 }, /^max must be at least min/],
      [{ min: 0, max: 0, target: 50 }, /^max must be an integer from 1/],
      [{ min: 1, max: 3, target: 0 }, /^target must be a number greater than 0/],
      [{ min: 1, max: 3, target: 50, metric: 'cpu' }, /^metric must be one of/],
      [{ min: 1, max: 3, target: 5, scaleDownStabilization: -5 }, /^scaleDownStabilization/],
      [{ min: 1, max: 3, target: 5, replicas: 2 }, /^replicas is not a known field/],
    ];
    for (const [body, message] of cases) {
      const res = await api.put(`/nodes/${nodeId}/scaling`, body);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    }
    expect((await api.put(`/nodes/bad node/scaling`, { min: 1, max: 2, target: 5 })).status).toBe(
      400,
    );
    expect((await api.get(`/nodes/${nodeId}/scaling`)).body).toMatchObject({ policy: null });
    expect(await eventsOf(nodeId, 'ScalingPolicySet')).toEqual([]);
  });

  it('answers 412 to a stale If-Match, storing nothing, and takes a current one', async () => {
    const nodeId = await createNode('match');
    const added = await api.put(`/nodes/${nodeId}/modules/web`, {
      type: 'http-endpoint',
      config: { port: '18080' },
    });
    expect(added.headers.get('etag')).toBe('"2"');
    const policy = { min: 1, max: 2, target: 60 };

    const stale = await api.put(`/nodes/${nodeId}/scaling`, policy, { 'if-match': '"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body).toEqual({
      statusCode: 412,
      error: 'Precondition Failed',
      message: 'If-Match names version 1 but the node is at version 2',
    });
    expect((await api.get(`/nodes/${nodeId}/scaling`)).body).toMatchObject({ policy: null });
    expect(await eventsOf(nodeId, 'ScalingPolicySet')).toEqual([]);

    const current = await api.put(`/nodes/${nodeId}/scaling`, policy, { 'if-match': 'W/"2"' });
    expect(current.status).toBe(200);
    expect(current.body.policy).toMatchObject(policy);
    expect(await eventsOf(nodeId, 'ScalingPolicySet')).toHaveLength(1);
  });

  it('stores a policy with defaults in a scaling stream (the node version does not move) and copies the count to the scaling bucket', async () => {
    const nodeId = await createNode('policy');
    const put = await api.put(
      `/nodes/${nodeId}/scaling`,
      { min: 2, max: 4, target: 60 },
      {
        'x-plexus-reason': 'expected traffic',
      },
    );
    expect(put.status).toBe(200);
    const policy = {
      min: 2,
      max: 4,
      target: 60,
      metric: 'eventLoopUtilization',
      scaleUpStabilization: 0,
      scaleDownStabilization: 300,
    };
    // No live process: the count starts at min.
    expect(put.body).toMatchObject({ nodeId, policy, desired: 2 });
    expect((await api.get(`/nodes/${nodeId}/scaling`)).body).toMatchObject({
      policy,
      desired: 2,
      lastRecommendation: { from: 0, to: 2 },
    });

    const [set] = await eventsOf(nodeId, 'ScalingPolicySet');
    expect(set).toMatchObject({
      streamId: `scaling/${nodeId}`,
      data: { ...policy, desired: 2 },
      metadata: { actor: 'admin', reason: 'expected traffic' },
    });
    expect((await api.get(`/nodes/${nodeId}`)).headers.get('etag')).toBe('"1"');

    const kv = await openScalingBucket(nc);
    await waitFor('the count in the scaling bucket', async () => {
      return (await readDesiredProcesses(kv, nodeId))?.desired === 2;
    });

    const changed = await api.put(`/nodes/${nodeId}/scaling`, { min: 1, max: 1, target: 60 });
    expect(changed.body.desired).toBe(1);
    const recommended = await eventsOf(nodeId, 'ScaleRecommended');
    expect(recommended[0].data).toMatchObject({ from: 2, to: 1 });
    await waitFor('the new count in the scaling bucket', async () => {
      return (await readDesiredProcesses(kv, nodeId))?.desired === 1;
    });
  });

  it('recommends more processes when heartbeats report load above the target, and fewer once it stops', async () => {
    const nodeId = await createNode('auto');
    const identity: ProcessIdentity = {
      processId: `p-${randomBytes(8).toString('hex')}`,
      nodeId,
      host: 'test',
      pid: 1,
      portOffset: 0,
    };
    await announceMembership(nc, { ...identity, what: 'joined', at: new Date().toISOString() });
    await waitFor('the process up', async () => {
      return (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body.length === 1;
    });
    let requestsPerSec = 35;
    const heartbeat = (): Heartbeat => ({
      ...identity,
      appliedVersion: 1,
      modules: {},
      at: new Date().toISOString(),
      load: { eventLoopUtilization: 0.05, requestsPerSec },
    });
    publishHeartbeat(nc, heartbeat());
    const beats = setInterval(() => publishHeartbeat(nc, heartbeat()), 250);
    try {
      const put = await api.put(`/nodes/${nodeId}/scaling`, {
        min: 1,
        max: 3,
        target: 10,
        metric: 'requestsPerSec',
        scaleDownStabilization: 1,
      });
      expect(put.body.desired).toBe(1);

      // 35 req/s against 10: ceil(3.5) = 4, limited to max 3.
      await waitFor(
        'ScaleRecommended up',
        async () => (await eventsOf(nodeId, 'ScaleRecommended')).length === 1,
        10_000,
      );
      const [up] = await eventsOf(nodeId, 'ScaleRecommended');
      expect(up).toMatchObject({
        streamId: `scaling/${nodeId}`,
        metadata: { actor: 'control-plane' },
        data: {
          from: 1,
          to: 3,
          currentProcesses: 1,
          metric: 'requestsPerSec',
          currentValue: 35,
          target: 10,
        },
      });
      expect(up.data.reason).toMatch(/limited to \[1, 3\]/);
      // The process list shows the load each process last reported.
      expect((await api.get(`/processes?nodeId=${nodeId}`)).body[0].load).toEqual({
        eventLoopUtilization: 0.05,
        requestsPerSec: 35,
      });
      const kv = await openScalingBucket(nc);
      await waitFor('3 in the scaling bucket', async () => {
        return (await readDesiredProcesses(kv, nodeId))?.desired === 3;
      });

      requestsPerSec = 0;
      // Down in steps: the 2 processes asked for that never report count as at target (as HPA
      // counts pods without metrics when scaling down), so 3 -> 2 -> 1.
      await waitFor(
        'scaled down to 1',
        async () => (await api.get(`/nodes/${nodeId}/scaling`)).body.desired === 1,
        15_000,
      );
      const downs = (await eventsOf(nodeId, 'ScaleRecommended')).slice(0, -1).reverse();
      expect(downs.map((e) => [e.data.from, e.data.to])).toEqual([
        [3, 2],
        [2, 1],
      ]);
      for (const e of downs) expect(e.data).toMatchObject({ currentValue: 0, currentProcesses: 1 });
      expect((await api.get(`/nodes/${nodeId}/scaling`)).body).toMatchObject({
        lastRecommendation: { from: 2, to: 1 },
      });
      // The audit type filter knows the scaling events.
      expect(
        (await api.get(`/events?nodeId=${nodeId}&type=ScaleRecommended,ScalingPolicySet`)).body
          .events.length,
      ).toBe(4);
    } finally {
      clearInterval(beats);
    }
  });
});
