import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../test/support/ports';

/** Debian's etcd-server package (etcd 3.4) puts it here; ETCD_BIN names another. */
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

/**
 * A one-member etcd on free ports with a data directory of its own, the peer bench:write compares
 * Plexus's writes with. Defaults kept (it fsyncs its log on every commit, as Postgres does here).
 * Resolves null when the binary is absent.
 */
export async function startEtcd(): Promise<{
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
} | null> {
  if (!existsSync(ETCD_BIN)) return null;
  const dataDir = mkdtempSync(join(tmpdir(), 'plexus-bench-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    ETCD_BIN,
    [
      '--name=bench',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=bench=${peer}`,
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `etcd on ${endpoint}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`etcd exited: ${output}`);
        const res = await fetch(`${endpoint}/health`);
        return res.status === 200 && ((await res.json()) as { health: string }).health === 'true';
      },
      30_000,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, pid: child.pid!, stop };
}
