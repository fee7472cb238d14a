import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NatsConnection } from 'nats';
import { NodeDocument } from '@plexus/domain';
import { nodeDocumentKey } from './names';
import { connectNats, DEFAULT_NATS_URL } from './nats-connection';
import {
  openNodesBucket,
  putNodeDocument,
  readNodeDocument,
  watchNodeDocument,
} from './node-documents';
import { OwnNatsServer } from '../../../test/support/nats-server';
import { sleep } from '@plexus/common';

jest.setTimeout(30_000);
/** Node IDs this file used; their documents are purged from the shared bucket afterwards. */
const usedNodeIds: string[] = [];
const randomId = (prefix: string) => {
  const id = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  usedNodeIds.push(id);
  return id;
};
const doc = (nodeId: string, version: number): NodeDocument => ({
  nodeId,
  version,
  archived: false,
  properties: { v: String(version) },
  modules: [],
});

async function until<T>(get: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = get();
    if (value !== undefined) return value;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const dottedIds: string[] = [];

describe('watchNodeDocument (real NATS)', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connectNats(process.env.NATS_URL ?? DEFAULT_NATS_URL, 'bus-int-spec');
  });
  afterAll(async () => {
    const kv = await openNodesBucket(nc);
    for (const id of [...usedNodeIds, ...dottedIds])
      await kv.purge(nodeDocumentKey(id)).catch(() => undefined);
    await nc?.drain();
  });

  it('delivers the stored document, then only newer versions, in order', async () => {
    const nodeId = randomId('watch');
    const kv = await openNodesBucket(nc);
    await putNodeDocument(kv, doc(nodeId, 3));
    const seen: number[] = [];
    const watch = await watchNodeDocument(nc, nodeId, (d) => seen.push(d.version));
    expect((await watch.initial)?.version).toBe(3);
    await putNodeDocument(kv, doc(nodeId, 2)); // older: a late duplicate, ignored
    await putNodeDocument(kv, doc(nodeId, 3)); // same version: ignored
    await putNodeDocument(kv, doc(nodeId, 4));
    await until(() => (seen.includes(4) ? true : undefined), 'version 4');
    expect(seen).toEqual([3, 4]);
    expect(watch.version).toBe(4);
    await watch.stop();
    await putNodeDocument(kv, doc(nodeId, 5));
    await sleep(100); // a fixed wait: that the stopped watch sees nothing through it is tested
    expect(seen).toEqual([3, 4]);
  });

  it('starts with null when the node has no document, and sees it when it appears', async () => {
    const nodeId = randomId('later');
    const seen: number[] = [];
    const watch = await watchNodeDocument(nc, nodeId, (d) => seen.push(d.version));
    expect(await watch.initial).toBeNull();
    await putNodeDocument(await openNodesBucket(nc), doc(nodeId, 1));
    await until(() => (seen.length ? true : undefined), 'first document');
    expect(seen).toEqual([1]);
    await watch.stop();
  });

  it('keys node IDs that are not valid KV keys without colliding', async () => {
    expect(nodeDocumentKey('fhir_node')).toBe('fhir_node');
    expect(nodeDocumentKey('a.b')).toBe('a.b');
    expect(nodeDocumentKey('.a')).toBe('=a');
    expect(nodeDocumentKey('a..b')).toBe('a==b');
    const nodeId = `.${randomId('dot')}.`;
    dottedIds.push(nodeId);
    const kv = await openNodesBucket(nc);
    await putNodeDocument(kv, doc(nodeId, 1));
    expect((await readNodeDocument(kv, nodeId))?.nodeId).toBe(nodeId);
  });
});

describe('watchNodeDocument across a NATS server restart', () => {
  let server: OwnNatsServer;
  beforeAll(async () => {
    server = await OwnNatsServer.start();
  });
  afterAll(() => server?.dispose());

  it('converges on the latest document after the server restarts', async () => {
    const url = server.url;
    const watcherConn = await connectNats(url, 'watcher', { reconnectTimeWait: 100 });
    const nodeId = randomId('restart');
    const seen: number[] = [];
    const watch = await watchNodeDocument(watcherConn, nodeId, (d) => seen.push(d.version), {
      pollIntervalMs: 60_000, // prove the watch / reconnect path, not the safety-net poll
      retryMinMs: 100,
    });
    const writer = await connectNats(url, 'writer');
    await putNodeDocument(await openNodesBucket(writer), doc(nodeId, 1));
    await until(() => (seen.includes(1) ? true : undefined), 'version 1');
    await writer.close();

    // when the server stops and starts again (file storage keeps the bucket)
    await server.stopProcess();
    await sleep(300); // the outage is what is tested
    await server.startProcess();

    // then a change written after the restart reaches the watcher
    const writer2 = await connectNats(url, 'writer-2');
    const kv = await openNodesBucket(writer2);
    await putNodeDocument(kv, doc(nodeId, 2));
    await putNodeDocument(kv, doc(nodeId, 3));
    await until(() => (seen.includes(3) ? true : undefined), 'version 3 after the restart');
    expect(seen[0]).toBe(1);
    expect(seen.at(-1)).toBe(3);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    await watch.stop();
    await writer2.close();
    await watcherConn.close();
  });

  it('converges when the server comes back without its store and the bucket appears only later', async () => {
    const url = server.url;
    const watcherConn = await connectNats(url, 'watcher-wiped', { reconnectTimeWait: 100 });
    const nodeId = randomId('wiped');
    const seen: number[] = [];
    const watch = await watchNodeDocument(watcherConn, nodeId, (d) => seen.push(d.version), {
      pollIntervalMs: 60_000, // prove the watch / reconnect path, not the safety-net poll
      retryMinMs: 100,
    });
    const writer = await connectNats(url, 'writer-wiped');
    await putNodeDocument(await openNodesBucket(writer), doc(nodeId, 1));
    await until(() => (seen.includes(1) ? true : undefined), 'version 1');
    await writer.close();

    // when the server comes back empty, and nobody re-creates the bucket for a while
    await server.stopProcess();
    for (const entry of readdirSync(server.storeDir))
      if (entry !== 'nats.log')
        rmSync(join(server.storeDir, entry), { recursive: true, force: true });
    await server.startProcess();
    await sleep(2500); // a fixed wait: that the watcher sees nothing through it is tested
    expect(seen).toEqual([1]);

    // then the document put into a re-created bucket reaches the watcher
    const repairer = await connectNats(url, 'repairer');
    await putNodeDocument(await openNodesBucket(repairer), doc(nodeId, 2));
    await until(() => (seen.includes(2) ? true : undefined), 'version 2 in the re-created bucket');
    expect(seen).toEqual([1, 2]);
    await watch.stop();
    await repairer.close();
    await watcherConn.close();
  });
});
