/**
 * Control-plane replicas for the benchmarks: several built control planes on one database and
 * one NATS, and the load generator's routing over them. Each connection (closed-loop worker)
 * keeps to one replica (worker % count), as a load balancer with connection affinity does; when
 * its replica does not answer (refused, reset), the request counts as failed (a write is not
 * sent twice) and the worker goes to the next replica for REROUTE_MS, as a load balancer's
 * passive health check does.
 */
import { freePort } from '../test/support/ports';
import { spawnControlPlane } from '../test/support/processes';
import {
  BENCH_NATS_URL,
  BENCH_TOKEN,
  percentile,
  progress,
  round,
  socketJsonClient,
} from './support';

/** How long a replica that failed to answer gets no requests (nginx's fail_timeout default). */
export const REROUTE_MS = 10_000;

export interface Replica {
  index: number;
  url: string;
  process: Awaited<ReturnType<typeof spawnControlPlane>>;
  request: ReturnType<typeof socketJsonClient>;
  /** No requests before this (performance.now()): it failed to answer. */
  downUntil: number;
  stats: ReplicaStats;
}

interface ReplicaStats {
  acked: number;
  failed: number;
  latencies: number[];
}

const emptyStats = (): ReplicaStats => ({ acked: 0, failed: 0, latencies: [] });

/** Starts `count` replicas one after the other (the first creates and migrates the database). */
export async function startReplicas(
  count: number,
  databaseUrl: string,
  more: Record<string, string> = {},
): Promise<Replica[]> {
  const replicas: Replica[] = [];
  for (let index = 0; index < count; index++) {
    const port = await freePort();
    progress(`starting control-plane replica ${index} on :${port}`);
    const proc = await spawnControlPlane({
      DATABASE_URL: databaseUrl,
      NATS_URL: BENCH_NATS_URL,
      PORT: port,
      PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
      more,
      // e.g. BENCH_CP_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the replicas
      nodeArgs: process.env.BENCH_CP_NODE_ARGS?.split(' ').filter(Boolean),
    });
    replicas.push({
      index,
      url: proc.url,
      process: proc,
      // The lean client: on two cores, what the load generator spends is taken from the replicas.
      request: socketJsonClient(proc.url, { authorization: `Bearer ${BENCH_TOKEN}` }),
      downUntil: 0,
      stats: emptyStats(),
    });
  }
  return replicas;
}

export class ReplicaRouter {
  constructor(readonly replicas: Replica[]) {}

  /** The replica `worker`'s next request goes to: its own, or the next one that answers. */
  pick(worker: number): Replica {
    const now = performance.now();
    const n = this.replicas.length;
    for (let k = 0; k < n; k++) {
      const replica = this.replicas[(worker + k) % n];
      if (replica.downUntil <= now) return replica;
    }
    return this.replicas[worker % n];
  }

  /** One request; throws when the replica does not answer (and routes around it for a while). */
  async send(
    worker: number,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) {
    const replica = this.pick(worker);
    const started = performance.now();
    try {
      const res = await replica.request(method, path, body, headers);
      if (res.status < 300) {
        replica.stats.acked++;
        replica.stats.latencies.push(performance.now() - started);
      } else replica.stats.failed++;
      return { ...res, replica };
    } catch (err) {
      replica.stats.failed++;
      replica.downUntil = performance.now() + REROUTE_MS;
      throw err;
    }
  }

  resetStats() {
    for (const r of this.replicas) r.stats = emptyStats();
  }

  /** Per-replica figures since the last resetStats. */
  figures(seconds: number, extra: (r: Replica) => Record<string, unknown> = () => ({})) {
    return this.replicas.map((r) => {
      const sorted = [...r.stats.latencies].sort((a, b) => a - b);
      return {
        replica: r.index,
        ...extra(r),
        acknowledgedWrites: r.stats.acked,
        failedWrites: r.stats.failed,
        writesPerSec: round(r.stats.acked / seconds, 0),
        p50Ms: round(percentile(sorted, 50)),
        p99Ms: round(percentile(sorted, 99)),
      };
    });
  }
}

/** The replica whose /health says it leads the relay (null when none does, or none answers). */
export async function relayLeader(replicas: Replica[]): Promise<Replica | null> {
  const roles = await Promise.all(
    replicas.map(async (r) => {
      try {
        const res = await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(1000) });
        return ((await res.json()) as { relay?: string }).relay;
      } catch {
        return undefined;
      }
    }),
  );
  const leaders = replicas.filter((_, i) => roles[i] === 'leader');
  return leaders.length === 1 ? leaders[0] : null;
}
