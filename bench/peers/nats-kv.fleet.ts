import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { JSONCodec, KV, NatsConnection } from 'nats';
import { SpawnedProcess, spawnNode, stopProcess } from '../../test/support/processes';
import { waitFor } from '../../test/support/ports';

const WATCHER = join(__dirname, 'nats-kv-watcher.js');
const json = JSONCodec();

/**
 * A bare NATS JetStream KV fleet, the peer Plexus is compared with: `size` plain Node processes
 * that each watch the same key of a bucket of the fleet's own and serve its latest value on
 * GET / (ports base .. base+size-1), as the Plexus workers of one node follow their node document.
 */
export class NatsKvFleet {
  private constructor(
    private readonly kv: KV,
    private readonly key: string,
    readonly processes: SpawnedProcess[],
  ) {}

  static async start(nc: NatsConnection, natsUrl: string, size: number, basePort: number) {
    const bucket = `bench-peer-${randomBytes(4).toString('hex')}`;
    // History as in Plexus's node-document bucket; file storage, the KV default, as there too.
    const kv = await nc.jetstream().views.kv(bucket, { history: 5 });
    const key = 'document';
    await kv.put(key, json.encode({ message: 'start' }));
    const processes = Array.from({ length: size }, (_, i) =>
      spawnNode([WATCHER], {
        PATH: process.env.PATH,
        NATS_URL: natsUrl,
        BUCKET: bucket,
        KEY: key,
        PORT: String(basePort + i),
      }),
    );
    const fleet = new NatsKvFleet(kv, key, processes);
    try {
      await Promise.all(
        processes.map((p, i) =>
          waitFor(
            `NATS KV watcher on :${basePort + i}`,
            async () => {
              if (p.child.exitCode !== null) throw new Error(`it exited: ${p.output()}`);
              const res = await fetch(`http://127.0.0.1:${basePort + i}/`);
              return res.status === 200;
            },
            60_000,
            100,
          ),
        ),
      );
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  /** Puts a new value and resolves with the hrtime its acknowledgement arrived at. */
  async put(value: Record<string, unknown>): Promise<bigint> {
    await this.kv.put(this.key, json.encode(value));
    return process.hrtime.bigint();
  }

  /** Stops the processes and deletes the bucket. */
  async stop() {
    await Promise.all(this.processes.map((p) => stopProcess(p)));
    await this.kv.destroy().catch(() => undefined);
  }
}
