import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports';

export const NATS_BINARY = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/**
 * A nats-server with JetStream that one test owns (its own port and store directory), so that
 * the test may stop and restart it without touching the shared server.
 */
export class OwnNatsServer {
  private child: ChildProcess | null = null;
  readonly storeDir = mkdtempSync(join(tmpdir(), 'plexus-nats-'));

  private constructor(
    readonly port: number,
    private readonly configFile?: string,
  ) {}

  /** `config`: extra nats-server configuration (e.g. authorization), written to a file it reads. */
  static async start(config?: string): Promise<OwnNatsServer> {
    const port = await freePort();
    let configFile: string | undefined;
    if (config) {
      configFile = join(mkdtempSync(join(tmpdir(), 'plexus-nats-conf-')), 'nats.conf');
      writeFileSync(configFile, config);
    }
    const server = new OwnNatsServer(port, configFile);
    await server.startProcess();
    return server;
  }

  readonly logFile = join(this.storeDir, 'nats.log');

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  async startProcess() {
    const config = this.configFile ? ['-c', this.configFile] : [];
    this.child = spawn(
      NATS_BINARY,
      [
        ...config,
        '-a',
        '127.0.0.1',
        '-p',
        String(this.port),
        '-js',
        '-sd',
        this.storeDir,
        '-l',
        this.logFile,
      ],
      // The test's own environment (jest's process.env is not the one child_process would use).
      { stdio: 'ignore', env: { ...process.env } },
    );
    await waitFor(`nats-server on ${this.port}`, () => accepts(this.port), 10_000, 25);
  }

  /** Stops the server (SIGKILL: as abrupt as a crash) and waits until the port is closed. */
  async stopProcess() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async dispose() {
    await this.stopProcess();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
