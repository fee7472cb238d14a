import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, NatsConnection } from 'nats';
import { announceMembership, publishAppliedReport, publishHeartbeat } from '@plexus/bus';
import { ProcessIdentity } from '@plexus/domain';
import {
  Database,
  listWatchedProcesses,
  recordProcessJoined,
  recordProcessLeft,
  recordProcessLost,
  WATCHED_PROCESSES_SQL,
} from '@plexus/event-store';
import { ConfigReportsService } from '../apps/control-plane/src/processes/config-reports.service';
import { MembershipService } from '../apps/control-plane/src/processes/membership.service';
import { createTestDatabase } from './support/databases';
import { RunningControlPlane, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';

const HOUR = 60 * 60 * 1000;
const suffix = randomBytes(3).toString('hex');
const nodeId = `churn-${suffix}`;
const ago = (ms: number) => new Date(Date.now() - ms);
const metadata = { actor: 'test', correlationId: 'retention' };
const identity = (name: string, i = 0): ProcessIdentity => ({
  processId: `${name}-${suffix}-${i}`,
  nodeId,
  host: hostname(),
  pid: 10_000 + i,
  portOffset: 0,
});

describe('per-process memory and old process rows stay bounded under churn (real Postgres and NATS)', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let nc: NatsConnection;
  let store: Database;

  const processesOf = async (query: string) => {
    const res = await cp.api.get(`/processes?${query}`);
    expect(res.status).toBe(200);
    return res.body as { processId: string; status: string; archivedAt?: string }[];
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    cp = await startControlPlane({
      databaseUrl: testDb.url,
      env: {
        LOST_AFTER_MS: '1000',
        PROCESS_RETENTION_MS: String(HOUR),
        PROCESS_ARCHIVE_EVERY_MS: '200',
      },
    });
    expect((await cp.api.put(`/nodes/${nodeId}`, { properties: {} })).status).toBe(201);
    nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
    store = await Database.open(testDb.url, { poolSize: 2 });
  });
  afterAll(async () => {
    await nc?.drain();
    await store?.close();
    await cp?.close();
    await testDb?.drop();
  });

  it('forgets the heartbeat and the latest report of every process that left or was lost', async () => {
    const membership = cp.app.get(MembershipService);
    const reports = cp.app.get(ConfigReportsService);
    const processes = Array.from({ length: 20 }, (_, i) => identity('churn', i));
    const ids = processes.map((p) => p.processId);
    const tracked = (service: { trackedProcessIds(): string[] }) =>
      service.trackedProcessIds().filter((id) => ids.includes(id));

    for (const p of processes)
      expect(
        await announceMembership(nc, { ...p, what: 'joined', at: new Date().toISOString() }),
      ).toBe(true);
    const beat = () =>
      processes.forEach((p) =>
        publishHeartbeat(nc, {
          ...p,
          appliedVersion: 1,
          modules: {},
          at: new Date().toISOString(),
        }),
      );
    beat();
    const heartbeats = setInterval(beat, 200);
    try {
      for (const p of processes)
        publishAppliedReport(nc, { ...p, version: 1, ok: true, hrtimeNs: '0', modules: {} });
      await waitFor('every process up and tracked', async () => {
        const up = await processesOf(`nodeId=${nodeId}&status=up`);
        return (
          up.length === processes.length &&
          tracked(membership).length === processes.length &&
          tracked(reports).length === processes.length
        );
      });
    } finally {
      clearInterval(heartbeats);
    }

    // Half leave gracefully; the other half go silent and are recorded lost.
    const [leaving, vanishing] = [processes.slice(0, 10), processes.slice(10)];
    for (const p of leaving)
      expect(
        await announceMembership(nc, { ...p, what: 'left', at: new Date().toISOString() }),
      ).toBe(true);
    await waitFor('every process recorded left or lost', async () => {
      const rows = await processesOf(`nodeId=${nodeId}`);
      const status = new Map(rows.map((r) => [r.processId, r.status]));
      return (
        leaving.every((p) => status.get(p.processId) === 'left') &&
        vanishing.every((p) => status.get(p.processId) === 'lost')
      );
    });
    await waitFor('their entries dropped', async () => {
      return tracked(membership).length === 0 && tracked(reports).length === 0;
    });
  });

  it('forgets processes silent for long on every replica, whoever recorded their end', async () => {
    const membership = cp.app.get(MembershipService);
    const reports = cp.app.get(ConfigReportsService);
    // Processes of another cluster on this NATS: heard, never recorded, never told to leave.
    const strangers = Array.from({ length: 5 }, (_, i) => ({
      ...identity('stranger', i),
      nodeId: 'elsewhere',
    }));
    const ids = strangers.map((p) => p.processId);
    const tracked = (service: { trackedProcessIds(): string[] }) =>
      service.trackedProcessIds().filter((id) => ids.includes(id));
    for (const p of strangers) {
      publishHeartbeat(nc, { ...p, appliedVersion: 1, modules: {}, at: new Date().toISOString() });
      publishAppliedReport(nc, { ...p, version: 1, ok: true, hrtimeNs: '0', modules: {} });
    }
    await waitFor(
      'them to be heard',
      async () =>
        tracked(membership).length === strangers.length &&
        tracked(reports).length === strangers.length,
    );
    membership.sweep(Date.now() + membership.forgetSilentAfterMs - 1000);
    expect(tracked(membership)).toHaveLength(strangers.length); // not silent for long enough yet
    membership.sweep(Date.now() + membership.forgetSilentAfterMs + 1);
    expect({ heartbeats: tracked(membership), reports: tracked(reports) }).toEqual({
      heartbeats: [],
      reports: [],
    });
  });

  it('archives left and lost rows older than PROCESS_RETENTION_MS; GET /processes shows them only on request', async () => {
    const [oldLost, oldLeft, recentLost, recentLeft] = [
      'old-lost',
      'old-left',
      'new-lost',
      'new-left',
    ].map((name) => identity(name));
    for (const p of [oldLost, oldLeft])
      await recordProcessJoined(store, p, ago(3 * HOUR), metadata);
    for (const p of [recentLost, recentLeft])
      await recordProcessJoined(store, p, ago(HOUR / 6), metadata);
    await recordProcessLost(store, oldLost, ago(2 * HOUR), metadata);
    await recordProcessLeft(store, oldLeft, ago(2 * HOUR), metadata);
    await recordProcessLost(store, recentLost, ago(60_000), metadata);
    await recordProcessLeft(store, recentLeft, ago(60_000), metadata);

    // The archiver runs on the relay leader only: on a loaded machine the lease may change
    // hands (or be re-won) before it runs, so allow a few lease periods, not one interval.
    const archived = await waitFor(
      'the leader to archive the old rows',
      async () => {
        const rows = await processesOf(`nodeId=${nodeId}&archived=true`);
        const ids = rows.map((r) => r.processId);
        return ids.includes(oldLost.processId) && ids.includes(oldLeft.processId) && rows;
      },
      75_000,
      100,
    );
    expect(archived.map((r) => r.processId).sort()).toEqual(
      [oldLeft.processId, oldLost.processId].sort(),
    );
    for (const row of archived)
      expect(Date.parse(row.archivedAt!)).toBeGreaterThan(Date.now() - HOUR);

    const current = (await processesOf(`nodeId=${nodeId}`)).map((r) => r.processId);
    expect(current).toEqual(expect.arrayContaining([recentLost.processId, recentLeft.processId]));
    expect(current).not.toContain(oldLost.processId);
    expect(current).not.toContain(oldLeft.processId);

    // What the failure detector reads: up and lost processes only, and no archived one.
    const watched = (await listWatchedProcesses(store)).map((r) => r.processId);
    expect(watched).toContain(recentLost.processId);
    for (const p of [oldLost, oldLeft, recentLeft]) expect(watched).not.toContain(p.processId);
  }, 90_000);

  it("the failure detector's query reads an index that holds neither left nor archived rows (EXPLAIN)", async () => {
    // A cluster after some churn: many left rows within the retention, a few live ones.
    await store.query(
      `INSERT INTO processes (process_id, node_id, status, host, pid, port_offset, joined_at, left_at, last_seen_at)
       SELECT 'gone-' || g, $1, 'left', 'h', g, 0, now(), now(), now() FROM generate_series(1, 5000) g`,
      [nodeId],
    );
    await store.query('ANALYZE processes');
    const [{ 'QUERY PLAN': plan }] = await store.query<{ 'QUERY PLAN': unknown }>(
      `EXPLAIN (FORMAT JSON) ${WATCHED_PROCESSES_SQL}`,
    );
    const text = JSON.stringify(plan);
    expect(text).toContain('"Index Name":"processes_watched"');
    expect(text).not.toContain('Seq Scan');
  });
});
