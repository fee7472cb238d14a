import { connect } from 'node:net';
import { createTestDatabase } from './support/databases';
import { TEST_ADMIN_TOKEN } from './support/control-plane';
import { freePort, waitFor } from './support/ports';
import { spawnApp, SpawnedProcess, stopProcess } from './support/processes';

/** Whether a TCP connection to host:port is accepted (true) or refused (false). */
const accepts = (host: string, port: number) =>
  new Promise<boolean>((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNREFUSED' ? resolve(false) : reject(err),
    );
  });

/** The built control plane's admin API listens on BIND_ADDRESS only. */
describe('BIND_ADDRESS', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const started: SpawnedProcess[] = [];
  const controlPlane = (port: number, more: Record<string, string>) => {
    const proc = spawnApp('control-plane', [], {
      DATABASE_URL: db.url,
      NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      PORT: String(port),
      PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      LOG_LEVEL: 'info',
      ...more,
    });
    started.push(proc);
    return proc;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const proc of started) await stopProcess(proc, 5000);
    await db?.drop();
  });

  it('listens on the address given and on no other address of this host', async () => {
    // 127.0.0.2 is this host too (all of 127/8 is loopback on Linux), but another address.
    const port = await freePort();
    const cp = controlPlane(port, { BIND_ADDRESS: '127.0.0.2' });
    await waitFor(
      'the control plane on 127.0.0.2',
      async () => {
        if (cp.child.exitCode !== null) throw new Error(`control plane exited: ${cp.output()}`);
        return (await fetch(`http://127.0.0.2:${port}/health`)).status === 200;
      },
      30_000,
      100,
    );
    expect(await accepts('127.0.0.2', port)).toBe(true);
    expect(await accepts('127.0.0.1', port)).toBe(false);
    expect(cp.output()).toContain(`control plane listening on 127.0.0.2:${port}`);
  }, 60_000);

  it('exits 2 at start naming BIND_ADDRESS when it is not an IP address', async () => {
    const cp = controlPlane(await freePort(), { BIND_ADDRESS: 'localhost' });
    const stillRunning = new Promise((r) => setTimeout(() => r('still running'), 20_000).unref());
    expect(await Promise.race([cp.exited, stillRunning])).toBe(2);
    expect(cp.output()).toContain('BIND_ADDRESS must be an IP address');
  });
});
