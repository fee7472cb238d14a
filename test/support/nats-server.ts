import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports';

const NATS_BINARY = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

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

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnNatsServer> {
    const server = new OwnNatsServer(await freePort());
    await server.startProcess();
    return server;
  }

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  async startProcess() {
    this.child = spawn(
      NATS_BINARY,
      ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir],
      {
        stdio: 'ignore',
      },
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
