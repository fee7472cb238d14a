import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminApi, retryingAdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { createTestDatabase } from './support/databases';
import { OwnNatsServer } from './support/nats-server';
import { freePort, freePortBlock, waitFor } from './support/ports';
import { SpawnedProcess, spawnControlPlane, spawnWorker, stopProcess } from './support/processes';

/**
 * The NATS server comes back empty (kill -9, store wiped, restarted on the same port, as after a
 * replaced node or a lost disk). The control plane must repair it from Postgres: a worker
 * started afterwards gets the current config, and the next change reaches every worker.
 */
const OFFSETS = [0, 100];
/** The bound the issue names for a worker started after the loss. */
const SERVES_WITHIN_MS = 30_000;

function getMessage(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? JSON.parse(text).message : null);
        } catch {
          resolve(null);
        }
      });
    });
    req.on('error', () => resolve(null));
    req.setTimeout(1000, () => req.destroy());
  });
}

describe('a NATS server that lost its store', () => {
  let nats: OwnNatsServer;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: SpawnedProcess & { url: string };
  let api: AdminApi;
  const workers: SpawnedProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'plexus-wipe-'));
  const nodeId = `wipe-${randomBytes(4).toString('hex')}`;
  const file = join(dir, 'node.properties');
  let webPort: number;

  const tails = () =>
    [
      `control plane:\n${cp?.output().slice(-3000)}`,
      ...workers.map((w, i) => `worker ${i}:\n${w.output().slice(-2000)}`),
    ].join('\n\n');

  const until = async <T>(
    what: string,
    probe: () => Promise<T | undefined | null | false>,
    ms = 30_000,
  ): Promise<T> => {
    try {
      return await waitFor(what, probe, ms, 50);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n\n${tails()}`);
    }
  };

  const startWorker = (index: number) => {
    workers[index] = spawnWorker({
      nodeId,
      propertiesFile: file,
      portOffset: OFFSETS[index],
      natsUrl: nats.url,
    });
  };
  const serves = (indexes: number[], message: string) => async () => {
    const answers = await Promise.all(indexes.map((i) => getMessage(webPort + OFFSETS[i])));
    return answers.every((a) => a === message);
  };

  beforeAll(async () => {
    nats = await OwnNatsServer.start();
    db = await createTestDatabase('plexus_e2e');
    cp = await spawnControlPlane({
      DATABASE_URL: db.url,
      NATS_URL: nats.url,
      PORT: await freePort(),
      PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      LOG_LEVEL: 'info',
    });
    api = retryingAdminApi(cp.url);
    webPort = await freePortBlock(OFFSETS);
    writeFileSync(
      file,
      `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${webPort}\nmodule.web.config.message=from the file\n`,
    );
    startWorker(0);
    await until('worker 0 serving the file', serves([0], 'from the file'));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => stopProcess(w, 8000)));
    if (cp) await stopProcess(cp, 8000);
    await nats?.dispose();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('repairs streams and buckets from Postgres: a worker started afterwards serves the current config, and the next change reaches every worker', async () => {
    const before = await api.patch(`/nodes/${nodeId}/modules/web/config`, {
      message: 'current before the loss',
    });
    expect(before.status).toBe(200);
    await until('worker 0 serving the current config', serves([0], 'current before the loss'));

    // The server dies and comes back with nothing: same port, an empty store.
    await nats.stopProcess();
    for (const entry of readdirSync(nats.storeDir))
      if (entry !== 'nats.log')
        rmSync(join(nats.storeDir, entry), { recursive: true, force: true });
    await nats.startProcess();
    const restartedAt = performance.now();

    startWorker(1);
    await until(
      'a worker started after the loss serving the current config',
      serves([1], 'current before the loss'),
      SERVES_WITHIN_MS + 10_000,
    );
    const servedMs = performance.now() - restartedAt;
    process.stderr.write(
      `NATS store lost: a new worker served the current config ${Math.round(servedMs)} ms after NATS came back\n`,
    );
    expect(servedMs).toBeLessThan(SERVES_WITHIN_MS);
    // The worker that ran through the loss never stopped serving.
    expect(await getMessage(webPort + OFFSETS[0])).toBe('current before the loss');

    const next = await api.patch(`/nodes/${nodeId}/modules/web/config`, {
      message: 'the next change',
    });
    expect(next.status).toBe(200);
    await until('the next change on every worker, old and new', serves([0, 1], 'the next change'));

    const metrics = await (
      await fetch(`${cp.url}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(/^plexus_nats_repairs_total [1-9]/m);
    expect(cp.output()).toMatch(/repair/i);
  }, 120_000);
});
