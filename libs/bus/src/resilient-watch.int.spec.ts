import { KvEntry, NatsConnection } from 'nats';
import { connectNats } from './nats-connection';
import { ResilientWatch } from './resilient-watch';
import { OwnNatsServer } from '../../../test/support/nats-server';
import { sleep } from '@plexus/common';

jest.setTimeout(30_000);

const BUCKET = 'resilient_watch_spec';

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('ResilientWatch (own NATS server)', () => {
  let server: OwnNatsServer;
  let watcher: NatsConnection;
  beforeAll(async () => {
    server = await OwnNatsServer.start();
    watcher = await connectNats(server.url, 'resilient-watch-watcher', { reconnectTimeWait: 100 });
  });
  afterAll(async () => {
    await watcher?.close();
    await server?.dispose();
  });

  const bucket = (nc: NatsConnection) => () => nc.jetstream().views.kv(BUCKET, { history: 5 });

  /** Writes through a connection of its own, closed afterwards. */
  async function put(key: string, value: string) {
    const writer = await connectNats(server.url, 'resilient-watch-writer');
    try {
      await (await bucket(writer)()).put(key, value);
    } finally {
      await writer.close();
    }
  }

  it('delivers the stored value, then changes, and survives a server restart', async () => {
    await put('a', 'a1');
    const values = new Map<string, string>();
    const currents: number[] = [];
    const watch = ResilientWatch.start(watcher, {
      bucket: bucket(watcher),
      key: 'a',
      onEntry: (e: KvEntry) => values.set(e.key, e.string()),
      onCurrent: (generation) => currents.push(generation),
      retryMinMs: 100,
    });
    await until(() => currents.length === 1, 'the first start to be current');
    expect(values.get('a')).toBe('a1');
    expect(watch.generation).toBe(1);

    await put('a', 'a2');
    await until(() => values.get('a') === 'a2', 'a change');

    // when the server stops, the value changes while the watcher cannot hear of it (a writer
    // on another server instance of the same store), and the server comes back
    await server.stopProcess();
    await until(() => !watch.connected, 'the watcher to see the disconnect');
    await server.startProcess();
    // the watcher's reconnect races this write: either way it must end on a3
    await put('a', 'a3');

    await until(() => values.get('a') === 'a3', 'the value written while the watch was down');
    await until(() => currents.length >= 2, 'a re-start after the reconnect');
    expect(watch.generation).toBeGreaterThanOrEqual(2);
    expect(watch.connected).toBe(true);

    await watch.stop();
    await put('a', 'a4');
    await sleep(200);
    expect(values.get('a')).toBe('a3');
  });

  it('re-reads a value changed while the watch was down (not seen as a change)', async () => {
    // A watcher slow to reconnect: the value changes before it is back.
    const slow = await connectNats(server.url, 'resilient-watch-slow', { reconnectTimeWait: 1500 });
    await put('b', 'b1');
    const seen: { value: string; generation: number }[] = [];
    const watch: ResilientWatch = ResilientWatch.start(slow, {
      bucket: bucket(slow),
      key: 'b',
      onEntry: (e) => seen.push({ value: e.string(), generation: watch.generation }),
      retryMinMs: 100,
    });
    await until(() => seen.some((s) => s.value === 'b1'), 'b1');

    await server.stopProcess();
    await until(() => !watch.connected, 'the watcher to see the disconnect');
    await server.startProcess();
    await put('b', 'b2');
    expect(watch.connected).toBe(false);

    await until(() => seen.at(-1)?.value === 'b2', 'b2 after the restart');
    expect(seen.at(-1)?.generation).toBeGreaterThan(1); // read by the re-opened watch
    await watch.stop();
    await slow.close();
  });

  it('watches a whole pattern and reports when the current values are delivered', async () => {
    await put('p.1', 'x');
    await put('p.2', 'y');
    const keys = new Set<string>();
    let currentWith = -1;
    const watch = ResilientWatch.start(watcher, {
      bucket: bucket(watcher),
      key: 'p.*',
      onEntry: (e) => keys.add(e.key),
      onCurrent: () => (currentWith = keys.size),
    });
    await until(() => currentWith >= 0, 'the pattern to be current');
    expect(currentWith).toBe(2);
    await put('p.3', 'z');
    await until(() => keys.has('p.3'), 'a new key');

    // restart() re-delivers every current value, then reports them current again
    keys.clear();
    currentWith = -1;
    watch.restart();
    await until(() => currentWith >= 0, 'current after restart()');
    expect(currentWith).toBe(3);
    await watch.stop();
  });

  it('stops cleanly while the bucket cannot be opened', async () => {
    let attempts = 0;
    const watch = ResilientWatch.start(watcher, {
      bucket: async () => {
        attempts++;
        throw new Error('no bucket');
      },
      key: 'c',
      onEntry: () => undefined,
      retryMinMs: 20,
      retryMaxMs: 40,
    });
    await until(() => attempts >= 3, 'a few retries');
    const started = Date.now();
    await watch.stop();
    expect(Date.now() - started).toBeLessThan(500);
    const after = attempts;
    await sleep(100);
    expect(attempts).toBe(after);
  });
});
