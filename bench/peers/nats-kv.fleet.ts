import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { JSONCodec, KV, NatsConnection, Subscription } from 'nats';
import { SpawnedProcess, spawnNode, stopProcess } from '../../test/support/processes';
import { waitFor } from '../../test/support/ports';

const WATCHER = join(__dirname, 'nats-kv-watcher.js');
const json = JSONCodec();

/**
 * A bare NATS JetStream KV fleet, the peer Plexus is compared with: `size` plain Node processes
 * that each watch the same key of a bucket of the fleet's own and serve its latest value on
 * GET / (ports base .. base+size-1), as the Plexus workers of one node follow their node document.
 * Each process also reports the hrtime at which it took a value, as a Plexus worker reports an
 * applied document (see putReported).
 */
export class NatsKvFleet {
  /** The put putReported waits for, and the hrtimes at which processes reported taking it. */
  private waiter: { message: string; times: bigint[]; resolve: () => void } | null = null;
  private reportSub: Subscription | null = null;

  private constructor(
    private readonly kv: KV,
    private readonly key: string,
    readonly processes: SpawnedProcess[],
  ) {}

  private listen(nc: NatsConnection, subject: string) {
    this.reportSub = nc.subscribe(subject, {
      callback: (_err, msg) => {
        const r = msg.json<{ message: string; hrtimeNs: string }>();
        // Reports of other puts (the polled ones) are not waited for.
        const w = this.waiter;
        if (w?.message !== r.message) return;
        w.times.push(BigInt(r.hrtimeNs));
        if (w.times.length >= this.processes.length) w.resolve();
      },
    });
  }

  /** `nodeArgs`: flags for node itself in every process. */
  static async start(
    nc: NatsConnection,
    natsUrl: string,
    size: number,
    basePort: number,
    nodeArgs: string[] = [],
  ) {
    const bucket = `bench-peer-${randomBytes(4).toString('hex')}`;
    // History as in Plexus's node-document bucket; file storage, the KV default, as there too.
    const kv = await nc.jetstream().views.kv(bucket, { history: 5 });
    const key = 'document';
    await kv.put(key, json.encode({ message: 'start' }));
    const reportSubject = `bench.peer.${bucket}.applied`;
    const processes = Array.from({ length: size }, (_, i) =>
      spawnNode([...nodeArgs, WATCHER], {
        PATH: process.env.PATH,
        NATS_URL: natsUrl,
        BUCKET: bucket,
        KEY: key,
        PORT: String(basePort + i),
        REPORT_SUBJECT: reportSubject,
      }),
    );
    const fleet = new NatsKvFleet(kv, key, processes);
    fleet.listen(nc, reportSubject);
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

  /**
   * Puts `value` and waits until every process reported taking it: the hrtimes of the put's
   * acknowledgement and of the last process's report (the same clock as the Plexus workers'
   * applied reports); null when some process did not report within `timeoutMs`.
   */
  async putReported(
    value: { message: string } & Record<string, unknown>,
    timeoutMs: number,
  ): Promise<{ ackNs: bigint; lastNs: bigint } | null> {
    let timer: NodeJS.Timeout | undefined;
    const times: bigint[] = [];
    const all = new Promise<boolean>((resolve) => {
      this.waiter = { message: value.message, times, resolve: () => resolve(true) };
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const ackNs = await this.put(value);
    const ok = await all;
    clearTimeout(timer);
    this.waiter = null;
    if (!ok) return null;
    return { ackNs, lastNs: times.reduce((a, b) => (b > a ? b : a)) };
  }

  /** Stops the processes and deletes the bucket. */
  async stop() {
    this.reportSub?.unsubscribe();
    await Promise.all(this.processes.map((p) => stopProcess(p)));
    await this.kv.destroy().catch(() => undefined);
  }
}
