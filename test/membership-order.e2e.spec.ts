import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { announceMembership } from '@plexus/bus';
import { Cluster, startCluster } from './support/cluster-fixture';
import { waitFor } from './support/ports';

/**
 * The control plane records membership announcements of different nodes at once: a process that
 * joins and leaves at once, among many such processes of many nodes, is still recorded joined and
 * then left (never left first and then stuck `up` until it is found lost).
 */
describe('membership announcements of many nodes at once', () => {
  let cluster: Cluster;
  const tag = randomBytes(3).toString('hex');
  const nodes = Array.from({ length: 12 }, (_, i) => `mo-${tag}-${i}`);

  beforeAll(async () => {
    cluster = await startCluster({ natsClient: {}, controlPlane: { lostAfterMs: 2000 } });
    for (const nodeId of nodes) {
      const res = await cluster.api.put(`/nodes/${nodeId}`, { properties: {} });
      expect(res.status).toBeLessThan(300);
    }
  }, 60_000);

  afterAll(() => cluster?.stop(), 60_000);

  it('records each process that joins and leaves at once as joined, then left, never lost', async () => {
    const processes = nodes.flatMap((nodeId) =>
      Array.from({ length: 4 }, (_, i) => ({
        processId: `p-${tag}-${nodeId.split('-').pop()}-${i}`,
        nodeId,
        host: hostname(),
        pid: 1000 + i,
        portOffset: 0,
      })),
    );
    // Every process announces `joined` and, once that is acknowledged, `left` (no heartbeat in
    // between), all of them at once, so the stream interleaves the nodes' announcements.
    await Promise.all(
      processes.map(async (p) => {
        await announceMembership(cluster.nc, {
          ...p,
          what: 'joined',
          at: new Date().toISOString(),
        });
        await announceMembership(cluster.nc, { ...p, what: 'left', at: new Date().toISOString() });
      }),
    );
    const ours = new Set(processes.map((p) => p.processId));
    await waitFor(
      `all ${processes.length} processes listed left`,
      async () => {
        const res = await cluster.api.get('/processes?status=left');
        return res.body.filter((p: any) => ours.has(p.processId)).length === processes.length;
      },
      30_000,
      200,
    );
    // Well past LOST_AFTER_MS: none of them was (or is now) judged lost.
    await new Promise((r) => setTimeout(r, 3000));
    for (const nodeId of nodes) {
      const events = (await cluster.api.get(`/events?nodeId=${nodeId}&limit=100`)).body.events as {
        type: string;
        data: { processId?: string };
      }[];
      const mine = events.filter((e) => ours.has(e.data.processId ?? ''));
      expect(mine.filter((e) => e.type === 'ProcessLost')).toEqual([]);
      for (const p of processes.filter((q) => q.nodeId === nodeId))
        expect(mine.filter((e) => e.data.processId === p.processId).map((e) => e.type)).toEqual([
          'ProcessLeft', // newest first
          'ProcessJoined',
        ]);
    }
  });
});
