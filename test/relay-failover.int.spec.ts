import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { createTestDatabase } from './support/databases';
import { eventsOnStream } from './support/event-stream';
import { RunningControlPlane, startControlPlane } from './support/control-plane';
import { starveRelayLeader } from './support/leader-lease';
import { waitFor } from './support/ports';

/**
 * Two control-plane replicas on one database: exactly one relays. When the leader cannot renew
 * its lease (its process is frozen or cut off from Postgres), it steps down, a new term starts and
 * nothing is lost. (test/leader-freeze.e2e.spec.ts freezes a real process.)
 */
describe('relay failover between two control-plane replicas', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: RunningControlPlane;
  let b: RunningControlPlane;
  let nc: NatsConnection;

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await startControlPlane({ databaseUrl: db.url, env: { LEADER_LEASE_MS: '1500' } });
    b = await startControlPlane({ databaseUrl: db.url, env: { LEADER_LEASE_MS: '1500' } });
    nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
  });
  afterAll(async () => {
    await nc?.close();
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  const relayRoles = async () =>
    Promise.all([a, b].map(async (cp) => (await cp.api.get('/health')).body.relay));

  it('has one leader; when it cannot renew its lease a new term takes over and publishes every event', async () => {
    const roles = await waitFor('a relay leader', async () => {
      const r = await relayRoles();
      return r.includes('leader') && r;
    });
    expect(roles.sort()).toEqual(['leader', 'standby']);

    const nodeId = `fo-${randomBytes(4).toString('hex')}`;
    await a.api.put(`/nodes/${nodeId}`, { properties: {} });
    await b.api.put(`/nodes/${nodeId}/modules/web`, {
      type: 'http-endpoint',
      config: { port: '8000' },
    });
    await waitFor(
      '2 events published',
      async () => (await eventsOnStream(nc, nodeId)).length === 2,
    );

    // The leader cannot renew its lease (frozen, cut off): it steps down and a new term starts.
    const endedTerm = await starveRelayLeader(db.url, [a.api, b.api]);

    for (let i = 0; i < 5; i++)
      await (i % 2 ? a : b).api.patch(`/nodes/${nodeId}/modules/web/config`, { message: `m${i}` });
    const events = await waitFor(
      'all 7 events published after the failover',
      async () => {
        const e = await eventsOnStream(nc, nodeId);
        return e.length === 7 && e;
      },
      15_000,
      100,
    );
    expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const rolesAfter = await waitFor('one leader again', async () => {
      const r = await relayRoles();
      return r.filter((x) => x === 'leader').length === 1 && r;
    });
    expect(rolesAfter.sort()).toEqual(['leader', 'standby']);
    const terms = await Promise.all([a, b].map(async (cp) => (await cp.api.get('/health')).body));
    const leaderTerm = terms.find((h) => h.relay === 'leader')!.relayTerm;
    expect(BigInt(leaderTerm)).toBeGreaterThan(endedTerm);
  });

  it("lets two replicas write one node in turns, each deciding on the other's latest change", async () => {
    const nodeId = `rep-${randomBytes(4).toString('hex')}`;
    await a.api.put(`/nodes/${nodeId}`, { properties: {} });
    await a.api.put(`/nodes/${nodeId}/modules/web`, {
      type: 'http-endpoint',
      config: { port: '8000' },
    });
    // b adds a module that a has never seen; a must find it, not answer 404 from what it wrote last
    await b.api.put(`/nodes/${nodeId}/modules/api`, {
      type: 'http-endpoint',
      config: { port: '8001' },
    });
    const patched = await a.api.patch(`/nodes/${nodeId}/modules/api/config`, { message: 'from a' });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(4);
    // an If-Match naming the version b just wrote is current for a too
    const viaB = await b.api.patch(`/nodes/${nodeId}/modules/web/config`, { message: 'from b' });
    const viaA = await a.api.patch(
      `/nodes/${nodeId}/modules/web/config`,
      { message: 'from a again' },
      { 'if-match': viaB.headers.get('etag')! },
    );
    expect(viaA.status).toBe(200);
    // and a stale one is refused by either
    const stale = await b.api.patch(
      `/nodes/${nodeId}/modules/web/config`,
      { message: 'late' },
      { 'if-match': '"4"' },
    );
    expect(stale.status).toBe(412);
    const doc = (await b.api.get(`/nodes/${nodeId}`)).body;
    expect(doc.version).toBe(6);
    expect(doc.modules.map((m: any) => m.config.message)).toEqual(['from a again', 'from a']);
  });
});
