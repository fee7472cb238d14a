import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createClient } from 'redis';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePortBlock } from './support/ports';
import { ROOT, SpawnedProcess } from './support/processes';

/**
 * A module type of the user's own, end to end: the example package examples/module-types/redis-cache
 * is built, two worker processes of one node load it through PLEXUS_MODULE_TYPES (its dist folder,
 * whose index exports `moduleTypes`), and the built control plane configures a `redis-cache`
 * module through the admin API. Both processes share the real Redis on 127.0.0.1:6379, a TTL
 * change applies with no process restarting, and a bad config is refused by the control plane
 * itself, against the JSON Schema the workers published in their catalogue.
 */
const EXAMPLE_DIST = join(ROOT, 'examples', 'module-types', 'redis-cache', 'dist');
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const OFFSETS = [0, 100];
const nodeId = `e2e-cache-${randomBytes(4).toString('hex')}`;

const cacheUrl = (port: number, key: string) =>
  `http://127.0.0.1:${port}/cache/${encodeURIComponent(key)}`;

describe('a module type from a user package (examples/module-types/redis-cache)', () => {
  let cluster: Cluster;
  let api: AdminApi;
  let port: number;
  const workers: SpawnedProcess[] = [];
  const redis = createClient({ url: REDIS_URL });

  /** GET / of the module on worker `i`, or undefined while it does not answer. */
  const about = async (i: number) => {
    const res = await fetch(`http://127.0.0.1:${port + OFFSETS[i]}/`).catch(() => undefined);
    return res?.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
  };

  const nodeVersion = async () => (await api.get(`/nodes/${nodeId}`)).body.version as number;

  beforeAll(async () => {
    // The examples build in about 15 s, too slow for the root build: this test builds its own.
    execFileSync('npm', ['run', '--silent', 'build:examples'], { cwd: ROOT, stdio: 'pipe' });
    await redis.connect();
    cluster = await startCluster({ databasePrefix: 'module_types_example' });
    api = cluster.api;
    expect((await api.put(`/nodes/${nodeId}`, { properties: {} })).status).toBe(201);
    port = await freePortBlock(OFFSETS);
    for (const offset of OFFSETS)
      workers.push(
        await cluster.startWorker({
          nodeId,
          portOffset: offset,
          env: { PLEXUS_MODULE_TYPES: EXAMPLE_DIST },
        }),
      );
    // The control plane validates configs of a user type once a process has published it.
    await cluster.until('redis-cache in GET /module-types', async () => {
      const res = await api.get('/module-types');
      return (
        res.status === 200 &&
        JSON.stringify(res.body).includes('"redis-cache"') &&
        JSON.stringify(res.body).includes('"redis.url"')
      );
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    const keys = await redis.keys(`${nodeId}:*`);
    if (keys.length) await redis.del(keys);
    await redis.close();
  });

  it('runs a redis-cache module on both processes, sharing values through Redis', async () => {
    // when a redis-cache module is configured through the API
    const res = await api.put(`/nodes/${nodeId}/modules/cache`, {
      type: 'redis-cache',
      config: { 'redis.url': REDIS_URL, port: String(port), ttl: '60' },
    });
    expect(res.status).toBe(201);

    // then both processes serve it, each on the port plus its offset
    const answers = await cluster.until('redis-cache on both processes', async () => {
      const both = await Promise.all(OFFSETS.map((_, i) => about(i)));
      return both.every((a) => a?.ttl === 60) && both;
    });
    expect(answers.map((a) => a!.moduleId)).toEqual(['cache', 'cache']);
    expect(new Set(answers.map((a) => a!.processId)).size).toBe(2);
    expect(answers[0]!.redisUrl).toBe(REDIS_URL);

    // and a value PUT through one process is served by the other
    const put = await fetch(cacheUrl(port + OFFSETS[0], 'order-42'), {
      method: 'PUT',
      body: 'shipped',
    });
    expect(put.status).toBe(204);
    const got = await fetch(cacheUrl(port + OFFSETS[1], 'order-42'));
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('shipped');
    expect(await redis.get(`${nodeId}:cache:order-42`)).toBe('shipped');
  });

  it('hot-applies a TTL change on both processes with no restart', async () => {
    const pids = workers.map((w) => w.child.pid);
    const processIds = await Promise.all(OFFSETS.map(async (_, i) => (await about(i))!.processId));

    // when the TTL changes to 7 s
    const res = await api.patch(`/nodes/${nodeId}/modules/cache/config`, { ttl: '7' });
    expect(res.status).toBe(200);

    // then both processes show it, the same OS processes with the same process IDs
    const answers = await cluster.until('ttl 7 on both processes', async () => {
      const both = await Promise.all(OFFSETS.map((_, i) => about(i)));
      return both.every((a) => a?.ttl === 7) && both;
    });
    expect(answers.map((a) => a!.processId)).toEqual(processIds);
    expect(answers.map((a) => a!.configVersion)).toEqual([res.body.version, res.body.version]);
    expect(workers.map((w) => w.child.pid)).toEqual(pids);
    for (const w of workers) expect(w.child.exitCode).toBeNull();

    // and a key stored now lives 7 s in Redis
    await fetch(cacheUrl(port + OFFSETS[1], 'short-lived'), { method: 'PUT', body: 'x' });
    const ttl = await redis.ttl(`${nodeId}:cache:short-lived`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(7);
  });

  it('refuses a bad config with a 400 from the control plane naming the key, and stores nothing', async () => {
    const version = await nodeVersion();

    const zeroTtl = await api.patch(`/nodes/${nodeId}/modules/cache/config`, { ttl: '0' });
    expect(zeroTtl.status).toBe(400);
    expect(JSON.stringify(zeroTtl.body.message)).toContain('config.ttl');

    const noUrl = await api.put(`/nodes/${nodeId}/modules/cache2`, {
      type: 'redis-cache',
      config: { port: String(port + 1) },
    });
    expect(noUrl.status).toBe(400);
    expect(JSON.stringify(noUrl.body.message)).toContain('config.redis.url');

    expect(await nodeVersion()).toBe(version);
    expect((await about(0))?.ttl).toBe(7);
  });
});
