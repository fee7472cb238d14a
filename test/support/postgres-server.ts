import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, waitFor } from './ports';

function postgresBin(tool: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort();
  return join('/usr/lib/postgresql', versions[versions.length - 1], 'bin', tool);
}

/** Postgres refuses to run as root: run its tools as the postgres user when we are root. */
function asPostgres(tool: string, args: string[]): [string, string[]] {
  const isRoot = process.getuid?.() === 0;
  return isRoot
    ? ['runuser', ['-u', 'postgres', '--', postgresBin(tool), ...args]]
    : [postgresBin(tool), args];
}

function runAsPostgres(tool: string, args: string[]) {
  const [cmd, argv] = asPostgres(tool, args);
  execFileSync(cmd, argv, { stdio: 'pipe' });
}

/** The same without blocking the event loop: what the test does meanwhile goes on. */
async function runAsPostgresAsync(tool: string, args: string[]) {
  const [cmd, argv] = asPostgres(tool, args);
  await promisify(execFile)(cmd, argv);
}

/** A Postgres server that one test owns (initdb into a temp dir, its own port), to stop and start at will. */
export class OwnPostgresServer {
  private constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<OwnPostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'plexus-pg-'));
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(dir, uid, gid);
    }
    runAsPostgres('initdb', ['-D', dir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    const server = new OwnPostgresServer(dir, await freePort());
    await server.startProcess();
    return server;
  }

  url(database: string) {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async startProcess() {
    await runAsPostgresAsync('pg_ctl', [
      '-D',
      this.dataDir,
      '-w',
      '-l',
      join(this.dataDir, 'server.log'),
      '-o',
      `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dataDir} -c fsync=off`,
      'start',
    ]);
    await waitFor('own postgres', async () => {
      const c = new Client({ connectionString: this.url('postgres') });
      await c.connect();
      await c.end();
      return true;
    });
  }

  /** Immediate shutdown: connections drop as they would in a crash. */
  stopProcess() {
    runAsPostgres('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', 'stop']);
  }

  /**
   * `pg_ctl stop -m <mode>`, resolving once the server is down, without blocking the event loop.
   * `fast`: sessions are ended (their transactions rolled back) and a checkpoint written, as in
   * a planned restart or a failover's switchover.
   */
  async stop(mode: 'fast' | 'immediate' = 'fast') {
    await runAsPostgresAsync('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
  }

  /** `pg_ctl restart -m <mode>` (same options), resolving once it accepts connections again. */
  async restart(mode: 'fast' | 'immediate' = 'fast') {
    await runAsPostgresAsync('pg_ctl', [
      '-D',
      this.dataDir,
      '-m',
      mode,
      '-w',
      '-l',
      join(this.dataDir, 'server.log'),
      'restart',
    ]);
  }

  dispose() {
    try {
      this.stopProcess();
    } catch {
      /* already stopped */
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
