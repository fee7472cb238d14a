import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { Cluster, SpawnedControlPlane, startCluster } from './support/cluster-fixture';
import { auditEventStream } from './support/event-stream';
import { relayLeader } from './support/leader-lease';
import { freePortBlock } from './support/ports';
import { servedMessage } from './support/serving-watch';

/**
 * Three built control-plane replicas on one database and one NATS, writers spread over them, and
 * a worker. The relay leader is killed (-9) in the middle of the load: writes through the other
 * replicas go on (they do not depend on the leader), the writers of the dead one go elsewhere,
 * another replica takes the relay over, and the events stream ends up holding every event of the
 * database exactly once, in order, every acknowledged write among them; the worker converges.
 */
const LEASE_MS = 3000;
const WRITERS = 6;

type Replica = SpawnedControlPlane & { api: AdminApi; name: string };

interface Ack {
  correlationId: string;
  nodeId: string;
  version: number;
  replica: string;
  at: number;
}

describe('control-plane replicas under load when the relay leader is killed (-9)', () => {
  let cluster: Cluster;
  const replicas: Replica[] = [];
  const run = randomBytes(4).toString('hex');
  const nodeIds = [0, 1, 2, 3].map((n) => `rul-${run}-${n}`);
  const workerNode = nodeIds[0];
  let webPort: number;
  let startedAt: Date;
  let running = false;
  let writers: Promise<void>[] = [];

  beforeAll(async () => {
    startedAt = new Date(Date.now() - 1000);
    cluster = await startCluster({
      databasePrefix: 'plexus_e2e',
      controlPlane: false,
      natsClient: { maxReconnectAttempts: -1, reconnectTimeWait: 250 },
    });
    for (const name of ['a', 'b', 'c']) {
      const cp = await cluster.startControlPlane({ env: { LEADER_LEASE_MS: String(LEASE_MS) } });
      // No retries: what each replica answers is what is asserted.
      replicas.push({ ...cp, name, api: new AdminApi(cp.url, TEST_ADMIN_TOKEN) });
    }
    webPort = await freePortBlock([0]);
    const file = cluster.writeFile(
      'node.properties',
      `node.id=${workerNode}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${webPort}\nmodule.web.config.message=first\n`,
    );
    await cluster.startWorker({ nodeId: workerNode, propertiesFile: file });
    for (const nodeId of nodeIds.slice(1)) {
      expect((await cluster.api.put(`/nodes/${nodeId}`, { properties: {} })).status).toBe(201);
      const added = await cluster.api.put(`/nodes/${nodeId}/modules/web`, {
        type: 'http-endpoint',
        config: { port: '8000', message: 'first' },
      });
      expect(added.status).toBe(201);
    }
  }, 120_000);

  afterAll(async () => {
    running = false;
    await Promise.all(writers);
    await cluster?.stop();
  }, 60_000);

  it('keeps writing through the survivors, relays every event once in order after the takeover, and the worker converges', async () => {
    const leader = await cluster.until('one relay leader', async () => {
      const found = await relayLeader(replicas.map((r) => r.api)).catch(() => null);
      return found && replicas.find((r) => r.api === found.api);
    });
    const survivors = replicas.filter((r) => r !== leader);

    // Each writer keeps to one replica; when it does not answer, the writer goes to the next one
    // (as a load balancer does) and the write counts as failed: it is not sent twice.
    const acks: Ack[] = [];
    const failures: { replica: string; what: string; at: number }[] = [];
    const down = new Set<Replica>();
    running = true;
    writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; running; i++) {
        const replica =
          [0, 1, 2].map((k) => replicas[(w + k) % 3]).find((r) => !down.has(r)) ?? replicas[w];
        const nodeId = nodeIds[(w + i) % nodeIds.length];
        const correlationId = `rul-${run}-w${w}-${i}`;
        try {
          const res = await replica.api.patch(
            `/nodes/${nodeId}/modules/web/config`,
            { message: correlationId },
            { 'x-correlation-id': correlationId },
          );
          if (res.status === 200)
            acks.push({
              correlationId,
              nodeId,
              version: res.body.version,
              replica: replica.name,
              at: performance.now(),
            });
          else
            failures.push({ replica: replica.name, what: `${res.status}`, at: performance.now() });
        } catch (err) {
          down.add(replica);
          failures.push({
            replica: replica.name,
            what: (err as Error).message,
            at: performance.now(),
          });
        }
      }
    });
    await cluster.until('writes acknowledged by every replica', async () =>
      replicas.every((r) => acks.filter((a) => a.replica === r.name).length >= 10),
    );

    leader.child.kill('SIGKILL');
    const killedAt = performance.now();
    await leader.exited;
    const successor = await cluster.until(
      'a surviving replica leading the relay',
      async () => {
        const found = await relayLeader(survivors.map((r) => r.api)).catch(() => null);
        return found && survivors.find((r) => r.api === found.api);
      },
      60_000,
    );
    const tookOverAt = performance.now();
    const acksAfterTakeover = acks.filter((a) => a.at > tookOverAt).length;
    await cluster.until(
      'writes acknowledged after the takeover',
      async () => acks.filter((a) => a.at > tookOverAt).length >= acksAfterTakeover + 30,
    );
    running = false;
    await Promise.all(writers);
    process.stderr.write(
      `leader ${leader.name} killed: ${successor.name} leads after ${Math.round(tookOverAt - killedAt)} ms; ` +
        `${acks.length} writes acknowledged, ${failures.length} failed (${failures
          .map((f) => `${f.replica}: ${f.what}`)
          .slice(0, 3)
          .join('; ')})\n`,
    );

    // Writes through the survivors went on while nobody led the relay, and none of them failed
    // for want of a leader (a refused connection is the dead replica's). A 503 (with
    // Retry-After) is what a replica answers when a Postgres call outlasts its timeout on a
    // loaded machine, leader or not: allowed, but nothing else.
    for (const r of survivors) {
      const meanwhile = acks.filter(
        (a) => a.replica === r.name && a.at > killedAt && a.at < tookOverAt,
      );
      expect(meanwhile.length).toBeGreaterThan(0);
    }
    expect(failures.filter((f) => f.replica !== leader.name && f.what !== '503')).toEqual([]);

    // Every acknowledged write is in Postgres, once, as the version it was acknowledged with.
    const pg = new Client({ connectionString: cluster.db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ c: string; node_id: string; stream_version: number }>(
        `SELECT metadata->>'correlationId' AS c, node_id, stream_version FROM events
         WHERE metadata->>'correlationId' LIKE $1`,
        [`rul-${run}-w%`],
      );
      const stored = new Map<string, string[]>();
      for (const row of rows)
        stored.set(row.c, [...(stored.get(row.c) ?? []), `${row.node_id}@${row.stream_version}`]);
      for (const ack of acks)
        expect(stored.get(ack.correlationId)).toEqual([`${ack.nodeId}@${ack.version}`]);
    } finally {
      await pg.end();
    }

    // The stream holds every event of the database (the acknowledged writes among them) exactly
    // once, in the relay's order, although the relay changed hands mid-load.
    const audit = await cluster.until(
      'every event on the stream',
      async () => {
        const a = await auditEventStream(cluster.db.url, cluster.nc, startedAt);
        return a.missing === 0 && a;
      },
      60_000,
    );
    expect(audit).toMatchObject({ missing: 0, duplicates: 0, outOfOrder: 0 });
    expect(audit.inPostgres).toBeGreaterThanOrEqual(acks.length);

    // The worker converges to the node's final version and serves its last message.
    const final = (await successor.api.get(`/nodes/${workerNode}`)).body;
    const lastMessage = final.modules.find((m: { moduleId: string }) => m.moduleId === 'web').config
      .message;
    await cluster.until(
      `the worker applying version ${final.version}`,
      async () => {
        const res = await successor.api.get(`/processes?nodeId=${workerNode}&status=up`);
        return (res.body as { appliedVersion: number | null }[]).some(
          (p) => p.appliedVersion === final.version,
        );
      },
      30_000,
    );
    expect(await servedMessage(webPort)).toBe(lastMessage);
  }, 240_000);
});
