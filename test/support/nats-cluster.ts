import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_BINARY } from './nats-server';
import { freePort, waitFor } from './ports';

/** One server of an OwnNatsCluster: its ports, files and process. */
export interface ClusterServer {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  /** nats-server's monitoring endpoint (connz, jsz). */
  readonly httpPort: number;
  readonly configFile: string;
  readonly logFile: string;
  readonly url: string;
  child: ChildProcess | null;
}

/** What a server's /jsz says of the JetStream cluster it sees. */
interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number; replicas?: { current: boolean }[] };
  account_details?: { stream_detail?: { name: string; state: { last_seq: number } }[] }[];
}

/**
 * A JetStream cluster of nats-server processes on loopback that one test owns: a generated config
 * file per server (cluster name, server_name, its own store directory, routes to every other),
 * every port picked free at start, so that tests in parallel never collide.
 */
export class OwnNatsCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'plexus-nats-cluster-'));

  private constructor(readonly servers: ClusterServer[]) {}

  static async start(size = 3): Promise<OwnNatsCluster> {
    const name = `plexus-test-${process.pid}`;
    const ports: { port: number; clusterPort: number; httpPort: number }[] = [];
    const taken = new Set<number>();
    const pick = async () => {
      for (;;) {
        const port = await freePort();
        if (!taken.has(port)) return (taken.add(port), port);
      }
    };
    for (let i = 0; i < size; i++)
      ports.push({ port: await pick(), clusterPort: await pick(), httpPort: await pick() });
    const cluster = new OwnNatsCluster([]);
    const routes = ports.map((p) => `nats-route://127.0.0.1:${p.clusterPort}`);
    ports.forEach((p, i) => {
      const serverName = `n${i}`;
      const storeDir = join(cluster.dir, serverName);
      mkdirSync(storeDir);
      const configFile = join(cluster.dir, `${serverName}.conf`);
      writeFileSync(
        configFile,
        [
          `server_name: ${serverName}`,
          `listen: 127.0.0.1:${p.port}`,
          `http: 127.0.0.1:${p.httpPort}`,
          `jetstream { store_dir: "${storeDir}" }`,
          `cluster {`,
          `  name: ${name}`,
          `  listen: 127.0.0.1:${p.clusterPort}`,
          `  routes: [${routes.filter((_, j) => j !== i).join(', ')}]`,
          `}`,
        ].join('\n'),
      );
      cluster.servers.push({
        name: serverName,
        ...p,
        configFile,
        logFile: join(cluster.dir, `${serverName}.log`),
        url: `nats://127.0.0.1:${p.port}`,
        child: null,
      });
    });
    try {
      for (const s of cluster.servers) cluster.spawn(s);
      await cluster.untilFormed();
    } catch (err) {
      await cluster.dispose();
      throw err;
    }
    return cluster;
  }

  /** Every client URL, comma separated (a NATS_URL). */
  get url(): string {
    return this.servers.map((s) => s.url).join(',');
  }

  private spawn(s: ClusterServer) {
    s.child = spawn(NATS_BINARY, ['-c', s.configFile, '-l', s.logFile], {
      stdio: 'ignore',
      env: { ...process.env },
    });
  }

  /** A server's monitoring answer at `path` (e.g. `/jsz`, `/connz`). */
  async monitor<T>(index: number, path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.servers[index].httpPort}${path}`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`${path} of ${this.servers[index].name}: ${res.status}`);
    return (await res.json()) as T;
  }

  /**
   * Waits until every running server sees a JetStream meta leader and all its peers current
   * (cluster formation takes seconds, more on a loaded machine).
   */
  async untilFormed(timeoutMs = 60_000): Promise<void> {
    const running = this.servers.map((s, i) => ({ s, i })).filter(({ s }) => s.child);
    await waitFor(
      `a JetStream meta leader seen by ${running.map(({ s }) => s.name).join(', ')}`,
      async () => {
        for (const { i } of running) {
          const jsz = await this.monitor<Jsz>(i, '/jsz');
          const meta = jsz.meta_cluster;
          if (!meta?.leader || (meta.cluster_size ?? 0) < this.servers.length) return false;
          if (meta.replicas && meta.replicas.filter((r) => r.current).length < running.length - 1)
            return false;
        }
        return true;
      },
      timeoutMs,
      250,
    );
  }

  /** Names of the client connections a server has right now. */
  async connectionNames(index: number): Promise<string[]> {
    const connz = await this.monitor<{ connections?: { name?: string }[] }>(index, '/connz');
    return (connz.connections ?? []).map((c) => c.name ?? '');
  }

  /** The last sequence of a stream in this server's own replica (its /jsz), or null without it. */
  async localLastSeq(index: number, stream: string): Promise<number | null> {
    const jsz = await this.monitor<Jsz>(index, '/jsz?accounts=true&streams=true');
    for (const account of jsz.account_details ?? [])
      for (const detail of account.stream_detail ?? [])
        if (detail.name === stream) return detail.state.last_seq;
    return null;
  }

  /** kill -9: as abrupt as a crash; resolves once the process is gone. */
  async kill(index: number): Promise<void> {
    const s = this.servers[index];
    const child = s.child;
    s.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Starts a killed server again with its store as it was left. */
  restart(index: number): void {
    this.spawn(this.servers[index]);
  }

  async dispose(): Promise<void> {
    for (let i = 0; i < this.servers.length; i++) await this.kill(i);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
