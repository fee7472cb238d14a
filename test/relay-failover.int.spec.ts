import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { Client } from 'pg';
import { RELAY_LOCK_KEY } from '@plexus/event-store';
import { createTestDatabase } from './support/databases';
import { eventsOnStream } from './support/event-stream';
import { RunningControlPlane, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';

/**
 * Two control-plane replicas on one database: exactly one relays. When the leader's database
 * session dies (as it does when its process is killed), the other takes over and nothing is lost.
 */
describe('relay failover between two control-plane replicas', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: RunningControlPlane;
  let b: RunningControlPlane;
  let nc: NatsConnection;

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await startControlPlane({ databaseUrl: db.url });
    b = await startControlPlane({ databaseUrl: db.url });
    nc = await connect({ servers: 'nats://127.0.0.1:4222' });
  });
  afterAll(async () => {
    await nc?.close();
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  const relayRoles = async () =>
    Promise.all([a, b].map(async (cp) => (await cp.api.get('/health')).body.relay));

  it('has one leader; when its session dies the other replica takes over and publishes every event', async () => {
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

    // Kill the leader's lock session, as a crash of its process would.
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      const { rowCount } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND objid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [RELAY_LOCK_KEY],
      );
      expect(rowCount).toBe(1);
    } finally {
      await admin.end();
    }

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
  });
});
