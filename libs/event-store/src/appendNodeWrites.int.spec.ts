import { randomBytes, randomUUID } from 'node:crypto';
import { emptyNode, evolveAll, NodeDocument, NodeEvent } from '@plexus/domain';
import { builtInModuleTypes } from '@plexus/module-runtime';
import { migratedTestDatabase } from '../../../test/support/migrated-database';
import { testSecretsCipher } from '../../../test/support/secrets';
import { appendNodeWrites, NodeWrite } from './appendNodeWrites';
import { appendToStream } from './appendToStream';
import { Database } from './database';
import { NodeCommandHandler } from './node-command-handler';
import { readNodeDocument } from './node-documents';

const ctx = { actor: 'test', correlationId: 'group-commit' };
/** The stream's events in order: their versions and types. */
async function streamOf(db: Database, streamId: string) {
  return db.query<{ version: number; type: string }>(
    'SELECT stream_version AS version, type FROM events WHERE stream_id = $1 ORDER BY stream_version',
    [streamId],
  );
}
const id = (label: string) => `${label}-${randomBytes(3).toString('hex')}`;

/** A write that sets property `n` on a node at `from` (null: a new node). */
function propertyWrite(nodeId: string, from: NodeDocument | null, n: number): NodeWrite {
  const events: NodeEvent[] = from
    ? [
        {
          type: 'NodePropertiesChanged',
          data: { changes: [{ key: 'n', old: null, new: String(n) }] },
        },
      ]
    : [{ type: 'NodeCreated', data: { properties: { n: String(n) } } }];
  const document = evolveAll(from ?? emptyNode(nodeId), events);
  return {
    nodeId,
    expectedVersion: from?.version ?? 0,
    document,
    events: events.map((e) => ({
      eventId: randomUUID(),
      type: e.type,
      data: e.data as Record<string, unknown>,
      metadata: ctx,
    })),
  };
}

describe('group commit: several nodes written by one statement (real Postgres)', () => {
  const store = migratedTestDatabase();

  it('applies the writes whose node is still at the expected version, and stores nothing for the others', async () => {
    const [fresh, current, stale] = [id('fresh'), id('current'), id('stale')];
    await appendNodeWrites(store.db, [
      propertyWrite(current, null, 1),
      propertyWrite(stale, null, 1),
    ]);
    const currentDoc = await readNodeDocument(store.db, current);
    const staleDoc = await readNodeDocument(store.db, stale);
    await appendNodeWrites(store.db, [propertyWrite(stale, staleDoc, 2)]); // stale moves on to version 2

    const outcome = await appendNodeWrites(store.db, [
      propertyWrite(fresh, null, 1),
      propertyWrite(current, currentDoc, 2),
      propertyWrite(stale, staleDoc, 3), // written against version 1
    ]);

    expect([...outcome.committed].sort()).toEqual([current, fresh].sort());
    // The stale one is answered with the version it is at, read under its row lock.
    expect(outcome.stale).toEqual(new Map([[stale, 2]]));
    expect((await readNodeDocument(store.db, fresh))?.properties).toEqual({ n: '1' });
    expect(await readNodeDocument(store.db, current)).toMatchObject({
      version: 2,
      properties: { n: '2' },
    });
    expect(await readNodeDocument(store.db, stale)).toMatchObject({
      version: 2,
      properties: { n: '2' },
    });
    expect((await streamOf(store.db, stale)).map((e) => e.version)).toEqual([1, 2]);
    expect((await streamOf(store.db, current)).map((e) => e.type)).toEqual([
      'NodeCreated',
      'NodePropertiesChanged',
    ]);
  });

  it('refuses two writes of one node in one statement', async () => {
    const node = id('twice');
    await expect(
      appendNodeWrites(store.db, [propertyWrite(node, null, 1), propertyWrite(node, null, 2)]),
    ).rejects.toThrow(/one write per node/);
    expect(await readNodeDocument(store.db, node)).toBeNull();
  });

  it('through the command handler: 64 concurrent writers over 8 nodes each get their own version', async () => {
    const handler = new NodeCommandHandler({
      db: store.db,
      catalog: builtInModuleTypes(),
      secrets: testSecretsCipher(),
      groupCommit: { maxInFlight: 2, maxBatch: 64 },
    });
    const nodes = Array.from({ length: 8 }, (_, i) => id(`n${i}`));
    await Promise.all(
      nodes.map((n) => handler.handle(n, { kind: 'PutNode', properties: {} }, ctx)),
    );
    const writes = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        handler.handle(nodes[i % 8], { kind: 'PutNode', properties: { w: String(i) } }, ctx),
      ),
    );
    for (const node of nodes) {
      const versions = writes
        .filter((w) => w.document.nodeId === node)
        .map((w) => w.document.version)
        .sort((a, b) => a - b);
      expect(versions).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      expect((await streamOf(store.db, node)).map((e) => e.version)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
    }
  });

  it('a node created elsewhere meanwhile fails its own write only; the rest of the batch lands', async () => {
    const handler = new NodeCommandHandler({
      db: store.db,
      catalog: builtInModuleTypes(),
      secrets: testSecretsCipher(),
      groupCommit: { maxInFlight: 1, maxBatch: 64 },
    });
    // Events of `taken` exist without its read model row: a create against version 0 hits the
    // unique (stream, version) key, as when another writer creates the node at the same moment.
    const [first, other, taken] = [id('first'), id('other'), id('taken')];
    await appendToStream(store.db, taken, taken, 0, propertyWrite(taken, null, 1).events);
    const put = (n: string) => handler.handle(n, { kind: 'PutNode', properties: {} }, ctx);
    const results = await Promise.allSettled([put(first), put(other), put(taken)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(await readNodeDocument(store.db, other)).toMatchObject({ version: 1 });
    expect(await readNodeDocument(store.db, taken)).toBeNull();
  });
});
