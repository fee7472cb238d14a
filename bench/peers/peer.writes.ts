import { randomBytes } from 'node:crypto';
import { NatsConnection } from 'nats';
import { closedLoop, processCpuMs, progress } from '../support';
import { ETCD_BIN, startEtcd } from './etcd.server';

/** How bench:write drives a peer: as many concurrent writers, as long, keys spread the same way. */
export interface PeerWriteLoad {
  concurrency: number;
  seconds: number;
  /** The key writer `worker`'s `i`-th write goes to (Plexus's writes spread over nodes so). */
  keyOf: (worker: number, i: number) => string;
  /** Each value is about this size (a Plexus config-change event's). */
  valueBytes: number;
}

const valueOf = (load: PeerWriteLoad, worker: number, i: number) => {
  const message = `w${worker}-${i}`;
  const pad = 'x'.repeat(
    Math.max(0, load.valueBytes - JSON.stringify({ message, pad: '' }).length),
  );
  return JSON.stringify({ message, pad });
};

/** A peer kept running between rounds of writes, so that its rounds can alternate with Plexus's. */
export interface PeerWriter {
  /** `seconds` of the load's writers, closed loop; with the peer's and the client's CPU time. */
  run(seconds: number): Promise<PeerRun>;
  close(): Promise<void>;
}

export type PeerRun = Awaited<ReturnType<typeof closedLoop>> & {
  serverCpuMs: number;
  loadGeneratorCpuMs: number;
};

/**
 * A one-member etcd of the bench's own, written with the etcd3 client, warmed up. Null (with the
 * reason on stderr) when the etcd binary or the client package is missing: the rest of
 * bench:write stands.
 */
export async function openEtcdPeer(load: PeerWriteLoad): Promise<PeerWriter | null> {
  let Etcd3: typeof import('etcd3').Etcd3;
  try {
    ({ Etcd3 } = await import('etcd3'));
  } catch {
    progress('etcd skipped: the etcd3 client package is not installed (npm install)');
    return null;
  }
  const etcd = await startEtcd();
  if (!etcd) {
    progress(`etcd skipped: no etcd binary at ${ETCD_BIN} (apt-get install etcd-server)`);
    return null;
  }
  const client = new Etcd3({ hosts: etcd.endpoint });
  const put = async (worker: number, i: number) => {
    await client
      .put(load.keyOf(worker, i))
      .value(valueOf(load, worker, i))
      .exec();
  };
  progress(`etcd on ${etcd.endpoint}: warm-up`);
  await closedLoop(load.concurrency, 2, put);
  return {
    async run(seconds) {
      const serverBefore = processCpuMs(etcd.pid);
      const clientBefore = process.cpuUsage();
      const run = await closedLoop(load.concurrency, seconds, put);
      const used = process.cpuUsage(clientBefore);
      return {
        ...run,
        serverCpuMs: processCpuMs(etcd.pid) - serverBefore,
        loadGeneratorCpuMs: (used.user + used.system) / 1000,
      };
    },
    async close() {
      client.close();
      await etcd.stop();
    },
  };
}

/** Puts to a JetStream KV bucket of the bench's own (the bare NATS KV peer), deleted afterwards. */
export async function natsKvPuts(nc: NatsConnection, load: PeerWriteLoad) {
  const kv = await nc
    .jetstream()
    .views.kv(`bench-peer-${randomBytes(4).toString('hex')}`, { history: 5 });
  try {
    const put = async (worker: number, i: number) => {
      // KV keys take no slash: the same keys, dotted.
      await kv.put(load.keyOf(worker, i).replaceAll('/', '.'), valueOf(load, worker, i));
    };
    progress('NATS KV: warm-up');
    await closedLoop(load.concurrency, 2, put);
    progress(`NATS KV: ${load.concurrency} concurrent puts for ${load.seconds}s`);
    return await closedLoop(load.concurrency, load.seconds, put);
  } finally {
    await kv.destroy().catch(() => undefined);
  }
}
