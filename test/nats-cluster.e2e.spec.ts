import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import {
  EVENTS_STREAM,
  nodeDocumentKey,
  NODES_BUCKET,
  NODES_BUCKET_STREAM,
  PLEXUS_STREAMS,
  PublishedEvent,
} from '@plexus/bus';
import { AdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { eventsOnStream } from './support/event-stream';
import { OwnNatsCluster } from './support/nats-cluster';
import { freePortBlock } from './support/ports';
import { servedMessage } from './support/serving-watch';

/**
 * Plexus on a three-server NATS JetStream cluster: the control plane is given every server, each
 * worker one server of its own. During a stream of config writes the server the control plane
 * (and so the relay) is connected to dies (kill -9). Every acknowledged write must reach every
 * worker, in order and once, and the events stream must hold each event exactly once; the killed
 * server, started again, must catch up.
 */
const OFFSETS = [0, 100, 200];
const WRITES_BEFORE_KILL = 15;
const WRITES_AFTER_KILL = 40;
/** Writes are paced so that the ones after the kill span the relay's failover. */
const WRITE_EVERY_MS = 250;
/** A generous bound for a loaded 2-core machine: elections, the relay's ack timeout, reconnects. */
const CONVERGE_MS = 120_000;

interface Write {
  index: number;
  status: number;
  ms: number;
  ackedAt: number;
  version: number | null;
}

describe('Plexus on a NATS JetStream cluster', () => {
  let nats: OwnNatsCluster;
  let cluster: Cluster;
  /** No 503 retries: a write the kill made fail must count as failed. */
  let api: AdminApi;
  let file: string;
  let webPort: number;
  const nodeId = `natscl-${randomBytes(4).toString('hex')}`;
  const clients: NatsConnection[] = [];

  const until = <T>(
    what: string,
    probe: () => Promise<T | undefined | null | false>,
    ms = CONVERGE_MS,
  ): Promise<T> => cluster.until(what, probe, ms);

  /** A client of exactly these servers: it does not move to servers it learns of. */
  const clientOf = async (indexes: number[]) => {
    const nc = await connect({
      servers: indexes.map((i) => nats.servers[i].url),
      ignoreClusterUpdates: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      name: `nats-cluster-spec ${indexes.join(',')}`,
    });
    clients.push(nc);
    return nc;
  };

  const allServe = (message: string) => async () =>
    (await Promise.all(OFFSETS.map((o) => servedMessage(webPort + o)))).every((m) => m === message);

  beforeAll(async () => {
    nats = await OwnNatsCluster.start(3);
    cluster = await startCluster({
      nats: { url: nats.url },
      databasePrefix: 'plexus_e2e',
      controlPlane: { logLevel: 'info' },
    });
    api = new AdminApi(cluster.controlPlane.url, TEST_ADMIN_TOKEN);
    webPort = await freePortBlock(OFFSETS);
    file = cluster.writeFile(
      'node.properties',
      `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${webPort}\nmodule.web.config.message=from the file\n`,
    );
    // One server each, not the list: a worker whose server dies must find the others itself.
    for (const [i, offset] of OFFSETS.entries())
      await cluster.startWorker({
        nodeId,
        propertiesFile: file,
        portOffset: offset,
        natsUrl: nats.servers[i].url,
        until: 'up',
        timeoutMs: 60_000,
      });
    await until('every worker serving the file', allServe('from the file'));
  }, 240_000);

  afterAll(async () => {
    await Promise.all(clients.map((nc) => nc.close().catch(() => undefined)));
    await cluster?.stop();
    await nats?.dispose();
  }, 90_000);

  it('creates every stream and bucket with one replica per server (three)', async () => {
    const nc = await clientOf([0, 1, 2]);
    const jsm = await nc.jetstreamManager();
    const replicas = await Promise.all(
      PLEXUS_STREAMS.map(async (s) => [s, (await jsm.streams.info(s)).config.num_replicas]),
    );
    expect(Object.fromEntries(replicas)).toEqual(
      Object.fromEntries(PLEXUS_STREAMS.map((s) => [s, 3])),
    );
  });

  it('loses no acknowledged write when the relay’s server dies, and the server catches up when back', async () => {
    const victim = await until('the control plane connected to a server', async () => {
      for (let i = 0; i < nats.servers.length; i++)
        if ((await nats.connectionNames(i)).includes('plexus-control-plane')) return i + 1;
      return false;
    }).then((i) => i - 1);
    const survivors = OFFSETS.map((_, i) => i).filter((i) => i !== victim);
    const observer = await clientOf(survivors);
    const kv = await observer.jetstream().views.kv(NODES_BUCKET);
    const key = nodeDocumentKey(nodeId);

    // When each version first shows in the bucket, polled from the surviving servers.
    const firstSeen = new Map<number, number>();
    let observing = true;
    const observing$ = (async () => {
      while (observing) {
        const entry = await kv.get(key).catch(() => null);
        const version = entry ? (JSON.parse(entry.string()) as { version: number }).version : 0;
        if (version && !firstSeen.has(version)) firstSeen.set(version, performance.now());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const base = (await api.get(`/nodes/${nodeId}`)).body.version as number;
    const writes: Write[] = [];
    let killedAt = 0;
    let killing: Promise<void> | null = null;
    for (let index = 0; index < WRITES_BEFORE_KILL + WRITES_AFTER_KILL; index++) {
      if (index === WRITES_BEFORE_KILL) {
        killedAt = performance.now();
        killing = nats.kill(victim); // while the next writes are under way
      }
      const started = performance.now();
      const res = await Promise.race([
        api.patch(`/nodes/${nodeId}/modules/web/config`, { message: `write ${index}` }),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`write ${index} got no answer within 30 s`)), 30_000),
        ),
      ]);
      writes.push({
        index,
        status: res.status,
        ms: Math.round(res.ms),
        ackedAt: performance.now(),
        version: res.status < 300 ? (res.body.version as number) : null,
      });
      const wait = WRITE_EVERY_MS - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await killing;
    // The relay's connection was the one cut, and the worker given only that server found another.
    await until("the control plane and the killed server's worker back on NATS", async () =>
      [cluster.controlPlane, cluster.workers[victim]].every((p) =>
        /NATS disconnected[\s\S]*NATS reconnected/.test(p.output()),
      ),
    );
    const acked = writes.filter((w) => w.status >= 200 && w.status < 300);
    const failed = writes.filter((w) => w.status >= 300);
    const finalVersion = base + acked.length;
    const lastMessage = `write ${acked[acked.length - 1].index}`;

    // Every acknowledged write is in the node's version, and reaches every worker.
    const node = await api.get(`/nodes/${nodeId}`);
    expect(node.body.version).toBe(finalVersion);
    expect(acked.map((w) => w.version)).toEqual(acked.map((_, i) => base + i + 1));
    await until(
      `version ${finalVersion} in the bucket, seen from the surviving servers`,
      async () => firstSeen.has(finalVersion),
    );
    await until(`every worker serving "${lastMessage}"`, allServe(lastMessage));
    await until(`every worker reporting version ${finalVersion}`, async () => {
      const res = await api.get(`/processes?nodeId=${nodeId}&status=up`);
      const processes = res.body as { appliedVersion: number | null }[];
      return (
        processes.length === OFFSETS.length &&
        processes.every((p) => p.appliedVersion === finalVersion)
      );
    });
    observing = false;
    await observing$;

    // No worker applied a version twice or out of order: the versions each one logged applying.
    for (const [i, worker] of cluster.workers.entries()) {
      const applied = worker
        .output()
        .split('\n')
        .filter((line) => line.includes('"module reconfigured"'))
        .map((line) => JSON.parse(line) as { moduleId: string; version: number })
        .filter((l) => l.moduleId === 'web')
        .map((l) => l.version);
      const strictlyRising = applied.every((v, j) => j === 0 || v > applied[j - 1]);
      expect({ worker: i, strictlyRising, last: applied[applied.length - 1] }).toEqual({
        worker: i,
        strictlyRising: true,
        last: finalVersion,
      });
    }

    // The events stream holds every event Postgres recorded for the node, each exactly once.
    const recorded = async () => {
      const res = await fetch(`${cluster.controlPlane.url}/events?nodeId=${nodeId}&format=ndjson`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      return new Set(
        (await res.text())
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { eventId: string }).eventId),
      );
    };
    const inPostgres = await recorded();
    let onStream: PublishedEvent[] = [];
    let missing: string[] = [];
    await until('every recorded event on the events stream', async () => {
      // Each read bounded: once in about 15 runs a read never settled after the kill (its
      // consumer waiting on a stream leader that moved, as far as we can tell), using up the
      // whole wait; the next attempt starts a fresh consumer.
      let timer: ReturnType<typeof setTimeout> | undefined;
      onStream = await Promise.race([
        eventsOnStream(observer, nodeId),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('a read of the stream took over 15 s')),
            15_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      const ids = new Set(onStream.map((e) => e.eventId));
      missing = [...inPostgres].filter((id) => !ids.has(id));
      return missing.length === 0;
    }).catch(async (err: Error) => {
      // Which events, and when they were recorded relative to the kill, say where one was lost.
      const shown = await Promise.all(
        missing.slice(0, 5).map(async (id) => {
          const res = await api.get(`/events/${id}`);
          const e = res.body as {
            type: string;
            version: number;
            position: string;
            recordedAt: string;
          };
          return `${e.type} v${e.version} position ${e.position} at ${e.recordedAt}`;
        }),
      );
      throw new Error(
        `${missing.length} of ${inPostgres.size} events missing from the stream (${onStream.length} read; kill at ${new Date(performance.timeOrigin + killedAt).toISOString()}): ${shown.join('; ')}\n${err.message}`,
      );
    });
    const streamIds = onStream.map((e) => e.eventId);
    expect(streamIds.length - new Set(streamIds).size).toBe(0); // no duplicates
    const inPostgresNow = await recorded();
    expect(streamIds.filter((id) => !inPostgresNow.has(id))).toEqual([]);
    const configChanges = onStream.filter(
      (e) => e.type === 'ModuleConfigChanged' && e.version > base,
    );
    expect(configChanges.map((e) => e.version)).toEqual(acked.map((w) => w.version));

    // The blip: how long after its acknowledgement each write showed in the bucket.
    const lag = (w: Write) => {
      const seen = [...firstSeen].filter(([v]) => v >= w.version!).map(([, at]) => at);
      return Math.round(Math.min(...seen) - w.ackedAt);
    };
    const before = acked.filter((w) => w.index < WRITES_BEFORE_KILL).map(lag);
    const after = acked.filter((w) => w.index >= WRITES_BEFORE_KILL).map(lag);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const writeMs = writes.filter((w) => w.index >= WRITES_BEFORE_KILL).map((w) => w.ms);
    // Why the relay waited: its failed attempts, counted by reason.
    const relayFailures: Record<string, number> = {};
    for (const line of cluster.controlPlane.output().split('\n'))
      if (line.includes('relay publish failed')) {
        const reason = (JSON.parse(line) as { msg: string }).msg.replace(/.*will retry: /, '');
        relayFailures[reason] = (relayFailures[reason] ?? 0) + 1;
      }
    process.stderr.write(
      `${JSON.stringify({
        nats_cluster_kill: {
          killedServer: nats.servers[victim].name,
          writes: writes.length,
          acknowledged: acked.length,
          failed: failed.map((w) => ({ index: w.index, status: w.status })),
          writeMsAfterKill: { max: Math.max(...writeMs), median: median(writeMs) },
          bucketLagMsBeforeKill: { median: median(before), max: Math.max(...before) },
          bucketLagMsAfterKill: { median: median(after), max: Math.max(...after) },
          relayFailures,
          lastWriteSeenAfterKillMs: Math.round(Math.max(...[...firstSeen.values()]) - killedAt),
        },
      })}\n`,
    );

    // The killed server comes back with its store and catches up: its own replicas of the
    // events stream and the nodes bucket reach the leader's last sequence.
    nats.restart(victim);
    await nats.untilFormed(CONVERGE_MS);
    const jsm = await observer.jetstreamManager();
    const caughtUp = await until(`${nats.servers[victim].name} caught up`, async () => {
      const [events, nodes] = await Promise.all([
        jsm.streams.info(EVENTS_STREAM),
        jsm.streams.info(NODES_BUCKET_STREAM),
      ]);
      const [localEvents, localNodes] = await Promise.all([
        nats.localLastSeq(victim, EVENTS_STREAM),
        nats.localLastSeq(victim, NODES_BUCKET_STREAM),
      ]);
      return localEvents === events.state.last_seq && localNodes === nodes.state.last_seq
        ? { events: localEvents, nodes: localNodes }
        : false;
    });
    expect(caughtUp.events).toBeGreaterThan(0);
    // A client of that server alone reads the final document.
    const back = await clientOf([victim]);
    const entry = await (await back.jetstream().views.kv(NODES_BUCKET)).get(key);
    expect((JSON.parse(entry!.string()) as { version: number }).version).toBe(finalVersion);
  }, 600_000);
});
