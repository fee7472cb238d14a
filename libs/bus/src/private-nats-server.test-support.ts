import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Test support only: the nats-server binary, or null when this machine has none. */
export function natsServerBinary(): string | null {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  try {
    return (
      execFileSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).trim() || null
    );
  } catch {
    return null;
  }
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/**
 * Test support only: a nats-server with JetStream (file storage) owned by one test, on its own
 * random port, so the test may stop and restart it, or answer requests on it, without touching
 * the shared server or being answered by a control plane running there.
 */
export class PrivateNatsServer {
  private child: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'plexus-nats-'));
  readonly port = 20_000 + Math.floor(Math.random() * 40_000);

  constructor(private readonly binary: string) {}

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start() {
    this.child = spawn(
      this.binary,
      ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dir],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 400; i++) {
      if (await accepts(this.port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`private nats-server on ${this.port} did not start`);
  }

  async stop() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
