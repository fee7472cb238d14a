import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import { createClient } from 'redis';
import type { ModuleContext, ModuleInstance } from '@plexus/module-sdk';
import { withDefaults } from '@plexus/module-sdk';
import { freePort, freePortBlock, portIsFree, waitFor } from '../../../../test/support/ports';
import { redisCacheSchema } from './redis-cache.config';
import { redisCache } from './redis-cache.module-type';

/**
 * The redis-cache type run through the SDK contract alone (start, reconfigure, health, stop) with
 * a context built by hand, against the real Redis on 127.0.0.1:6379. Every test writes under a
 * key prefix of its own and removes its keys.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

type Config = Record<string, string>;

const redis = createClient({ url: REDIS_URL });
const running: ModuleInstance[] = [];
const prefixes: string[] = [];
const proxies: net.Server[] = [];
let version = 1;

beforeAll(() => redis.connect());

afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
  for (const prefix of prefixes.splice(0)) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(keys);
  }
  for (const proxy of proxies.splice(0)) proxy.close();
});

afterAll(() => redis.close());

const uniquePrefix = () => {
  const prefix = `redis-cache-int:${randomUUID()}:`;
  prefixes.push(prefix);
  return prefix;
};

const contextFor = (config: Config, portOffset = 0): ModuleContext => ({
  nodeId: 'shop',
  processId: 'process-1',
  moduleId: 'cache',
  config: withDefaults(redisCacheSchema, config),
  portOffset,
  configVersion: () => version,
  logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
  dependencies: {},
  mayServe: () => true,
});

async function start(config: Config, portOffset = 0) {
  const instance = await redisCache.start(contextFor(config, portOffset));
  running.push(instance);
  return instance;
}

/** Reconfigures as a worker would: the whole new config and the keys that changed. */
async function reconfigure(instance: ModuleInstance, previous: Config, config: Config) {
  version++;
  const changedKeys = [...new Set([...Object.keys(previous), ...Object.keys(config)])].filter(
    (key) => previous[key] !== config[key],
  );
  return instance.reconfigure(contextFor(config), {
    config: withDefaults(redisCacheSchema, config),
    previous: withDefaults(redisCacheSchema, previous),
    changedKeys,
  });
}

const put = (port: number, key: string, value: string) =>
  fetch(`http://127.0.0.1:${port}/cache/${encodeURIComponent(key)}`, {
    method: 'PUT',
    body: value,
  });
const get = (port: number, key: string) =>
  fetch(`http://127.0.0.1:${port}/cache/${encodeURIComponent(key)}`);
const about = async (port: number) => (await fetch(`http://127.0.0.1:${port}/`)).json();

/** A TCP proxy to Redis that the test can take away, as a network outage would. */
async function redisProxy(): Promise<{ url: string; cut: () => Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  proxies.push(server);
  return {
    url: `redis://127.0.0.1:${port}`,
    cut: async () => {
      const closed = new Promise((r) => server.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

describe('redis-cache module type', () => {
  it('stores a PUT value in Redis with the TTL and answers it on GET; an unknown key is a 404', async () => {
    // given a module on a free port with a TTL of 60 s
    const port = await freePortBlock([0]);
    const prefix = uniquePrefix();
    await start({ 'redis.url': REDIS_URL, port: String(port), 'key.prefix': prefix });

    // when a value is PUT and read back
    expect((await put(port, 'greeting', 'hello, cache')).status).toBe(204);
    const hit = await get(port, 'greeting');

    // then it is served, stored under the prefix with a TTL of at most 60 s
    expect(hit.status).toBe(200);
    expect(await hit.text()).toBe('hello, cache');
    expect(await redis.get(`${prefix}greeting`)).toBe('hello, cache');
    const ttl = await redis.ttl(`${prefix}greeting`);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
    expect((await get(port, 'nothing-here')).status).toBe(404);
    expect(await about(port)).toEqual({
      nodeId: 'shop',
      processId: 'process-1',
      moduleId: 'cache',
      ttl: 60,
      redisUrl: REDIS_URL,
      configVersion: version,
    });
  });

  it('applies a TTL change in place: the same listener stores new keys with the new TTL', async () => {
    // given a module serving with a TTL of 60 s and one key stored
    const port = await freePortBlock([0]);
    const before = { 'redis.url': REDIS_URL, port: String(port), 'key.prefix': uniquePrefix() };
    const cache = await start(before);
    expect((await put(port, 'old', 'a')).status).toBe(204);
    // a connection held open across the change shows that the listener was not replaced
    const held = new net.Socket();
    await new Promise<void>((resolve) => held.connect(port, '127.0.0.1', resolve));

    // when the TTL changes to 5 s
    const after = { ...before, ttl: '5' };
    expect(await reconfigure(cache, before, after)).toBe('applied');

    // then new keys live 5 s, the old key keeps its TTL, and the held connection is still open
    expect((await put(port, 'new', 'b')).status).toBe(204);
    const newTtl = await redis.ttl(`${before['key.prefix']}new`);
    expect(newTtl).toBeGreaterThan(0);
    expect(newTtl).toBeLessThanOrEqual(5);
    expect(await redis.ttl(`${before['key.prefix']}old`)).toBeGreaterThan(50);
    expect((await about(port)).ttl).toBe(5);
    expect(held.destroyed).toBe(false);
    held.destroy();
  });

  it('applies a key prefix change in place: new values go under the new prefix', async () => {
    const port = await freePortBlock([0]);
    const before = { 'redis.url': REDIS_URL, port: String(port), 'key.prefix': uniquePrefix() };
    const cache = await start(before);
    const after = { ...before, 'key.prefix': uniquePrefix() };

    expect(await reconfigure(cache, before, after)).toBe('applied');
    await put(port, 'k', 'v');

    expect(await redis.get(`${after['key.prefix']}k`)).toBe('v');
    expect(await redis.get(`${before['key.prefix']}k`)).toBeNull();
  });

  it('refuses a Redis URL it cannot connect to and keeps serving with the old connection', async () => {
    // given a module serving one key
    const port = await freePortBlock([0]);
    const before = { 'redis.url': REDIS_URL, port: String(port), 'key.prefix': uniquePrefix() };
    const cache = await start(before);
    await put(port, 'kept', 'still here');

    // when the URL changes to a port where nothing listens
    const closed = `redis://127.0.0.1:${await freePort()}`;
    await expect(reconfigure(cache, before, { ...before, 'redis.url': closed })).rejects.toThrow(
      `cannot connect to ${closed}`,
    );

    // then it still reads and writes through the old connection and shows the old URL
    expect(await (await get(port, 'kept')).text()).toBe('still here');
    expect((await put(port, 'after', 'x')).status).toBe(204);
    expect(await about(port)).toMatchObject({ redisUrl: REDIS_URL });
    expect((await cache.health()).status).toBe('UP');
  });

  it('reconnects in place to a new Redis URL that answers', async () => {
    const port = await freePortBlock([0]);
    const proxy = await redisProxy();
    const before = { 'redis.url': REDIS_URL, port: String(port), 'key.prefix': uniquePrefix() };
    const cache = await start(before);

    expect(await reconfigure(cache, before, { ...before, 'redis.url': proxy.url })).toBe('applied');

    expect(await about(port)).toMatchObject({ redisUrl: proxy.url });
    expect((await put(port, 'via-proxy', 'ok')).status).toBe(204);
    expect(await redis.get(`${before['key.prefix']}via-proxy`)).toBe('ok');
  });

  it('is UP while Redis answers PING and DOWN, naming the error, once Redis is unreachable', async () => {
    // given a module whose Redis is reached through a proxy
    const proxy = await redisProxy();
    const port = await freePortBlock([0]);
    const cache = await start({
      'redis.url': proxy.url,
      port: String(port),
      'key.prefix': uniquePrefix(),
    });
    await put(port, 'k', 'v');
    await get(port, 'k');
    expect(await cache.health()).toEqual({
      status: 'UP',
      details: expect.objectContaining({
        connected: true,
        keysServed: 1,
        keysStored: 1,
        lastError: null,
      }),
    });

    // when the proxy's port closes
    await proxy.cut();

    // then health turns DOWN with the error, and cache requests answer 503
    const down = await waitFor('health DOWN', async () => {
      const health = await cache.health();
      return health.status === 'DOWN' && health;
    });
    expect(down.details).toMatchObject({ connected: false, keysServed: 1 });
    expect(String(down.details?.lastError)).not.toBe('null');
    expect((await get(port, 'k')).status).toBe(503);
  });

  it('rebinds a port change in place and frees the old port; stop frees the port', async () => {
    const [first, second] = [await freePortBlock([0]), await freePortBlock([0])];
    const before = { 'redis.url': REDIS_URL, port: String(first), 'key.prefix': uniquePrefix() };
    const cache = await start(before);
    await put(first, 'k', 'v');

    expect(await reconfigure(cache, before, { ...before, port: String(second) })).toBe('applied');

    expect(await (await get(second, 'k')).text()).toBe('v');
    expect(await portIsFree(first)).toBe(true);

    await running.splice(running.indexOf(cache), 1)[0].stop();
    expect(await portIsFree(second)).toBe(true);
  });

  it('refuses to start on a port that is taken, naming the cause', async () => {
    const port = await freePortBlock([0]);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await expect(start({ 'redis.url': REDIS_URL, port: String(port) })).rejects.toThrow(
        'EADDRINUSE',
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
