import { randomBytes, randomUUID } from 'node:crypto';
import { evolveAll, NodeDocument, NodeEvent } from '@plexus/domain';
import { builtInModuleTypes } from '@plexus/module-runtime';
import { migratedTestDatabase } from '../../../test/support/migrated-database';
import { waitFor } from '../../../test/support/ports';
import { testSecretsCipher } from '../../../test/support/secrets';
import { appendNodeWrite, NodeWrite } from './appendNodeWrites';
import { NodeCommandHandler, StoredNodeDocument } from './node-command-handler';
import { readNodeDocument } from './node-documents';
import { PreconditionFailed } from './precondition-failed';

const ctx = { actor: 'test', correlationId: 'if-match' };

/** A write that sets property `n` on a stored node. */
function propertyWrite(from: NodeDocument, n: number): NodeWrite {
  const events: NodeEvent[] = [
    { type: 'NodePropertiesChanged', data: { changes: [{ key: 'n', old: null, new: String(n) }] } },
  ];
  return {
    nodeId: from.nodeId,
    expectedVersion: from.version,
    document: evolveAll(from, events),
    events: events.map((e) => ({
      eventId: randomUUID(),
      type: e.type,
      data: e.data as Record<string, unknown>,
      metadata: ctx,
    })),
  };
}

// One database for every test of this file.
const store = migratedTestDatabase();

describe('NodeCommandHandler answers If-Match with the version the node is at (real Postgres)', () => {
  const handler = () =>
    new NodeCommandHandler({
      db: store.db,
      catalog: builtInModuleTypes(),
      secrets: testSecretsCipher(),
    });

  it('a write whose If-Match is behind names the stored version', async () => {
    const nodeId = `behind-${randomBytes(3).toString('hex')}`;
    const writer = handler();
    await writer.handle(nodeId, { kind: 'PutNode', properties: {} }, ctx);
    await writer.handle(nodeId, { kind: 'PutNode', properties: { a: '1' } }, ctx);
    await writer.handle(nodeId, { kind: 'PutNode', properties: { a: '2' } }, ctx);
    const refused = await handler()
      .handle(nodeId, { kind: 'PutNode', properties: { a: '3' } }, { ...ctx, expectedVersion: 1 })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(PreconditionFailed);
    expect(refused).toMatchObject({ expected: 1, actual: 3 });
    expect((refused as Error).message).toBe(
      'If-Match names version 1 but the node is at version 3',
    );
  });

  it('a write that read the node at its If-Match version but lost the append names where the winner left it', async () => {
    const nodeId = `raced-${randomBytes(3).toString('hex')}`;
    await handler().handle(nodeId, { kind: 'PutNode', properties: {} }, ctx);
    const atOne = (await readNodeDocument(store.db, nodeId))!;
    let refused: Promise<unknown> | undefined;
    // Another writer takes the node from version 1 to 3 in one transaction; the write with
    // If-Match 1 reads version 1 meanwhile (the winner has not committed) and its group-commit
    // statement waits for the winner's row lock.
    await store.db.transaction(async (sql) => {
      const second = propertyWrite(atOne, 2);
      await appendNodeWrite(sql, second);
      await appendNodeWrite(sql, propertyWrite(second.document, 3));
      refused = handler()
        .handle(nodeId, { kind: 'PutNode', properties: { b: '1' } }, { ...ctx, expectedVersion: 1 })
        .catch((err: unknown) => err);
      await waitFor('the write to wait for the row lock', async () => {
        const [{ n }] = await store.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return n === 1;
      });
    });
    const err = await refused;
    expect(err).toBeInstanceOf(PreconditionFailed);
    // Not 2 (one past the If-Match version): the version the statement found under the lock.
    expect(err).toMatchObject({ expected: 1, actual: 3 });
    expect(await readNodeDocument(store.db, nodeId)).toMatchObject({ version: 3 });
  });
});

describe('NodeCommandHandler learns what other replicas commit (real Postgres)', () => {
  /** Two replicas' handlers on one database; `stored` gets what each one committed. */
  const replicas = () => {
    const stored: StoredNodeDocument[] = [];
    const make = () =>
      new NodeCommandHandler({
        db: store.db,
        catalog: builtInModuleTypes(),
        secrets: testSecretsCipher(),
        onCommitted: (s) => s && stored.push(s),
      });
    return { a: make(), b: make(), stored };
  };

  /** Statements `work` sends to Postgres. */
  const statements = async (work: () => Promise<unknown>) => {
    const spy = jest.spyOn(store.db, 'query');
    try {
      await work();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  };

  it('a write after another replica wrote the node takes one statement once the newer document is learnt, three otherwise', async () => {
    const put = (n: number) => ({ kind: 'PutNode' as const, properties: { n: String(n) } });
    for (const learn of [false, true]) {
      const nodeId = `learn-${learn}-${randomBytes(3).toString('hex')}`;
      const { a, b, stored } = replicas();
      await a.handle(nodeId, put(1), ctx); // a caches version 1
      await b.handle(nodeId, put(2), ctx); // the other replica takes the node to version 2
      if (learn) a.learn(stored.at(-1)!);
      const sent = await statements(() => a.handle(nodeId, put(3), ctx));
      // without: the append on version 1 is refused, the node read, then appended
      expect(sent).toBe(learn ? 1 : 3);
      expect(await readNodeDocument(store.db, nodeId)).toMatchObject({
        version: 3,
        properties: { n: '3' },
      });
    }
  });

  it('keeps its own newer document when it learns an older one', async () => {
    const nodeId = `older-${randomBytes(3).toString('hex')}`;
    const { a, b, stored } = replicas();
    await b.handle(nodeId, { kind: 'PutNode', properties: { n: '1' } }, ctx);
    const older = stored.at(-1)!;
    await a.handle(nodeId, { kind: 'PutNode', properties: { n: '2' } }, ctx);
    a.learn(older);
    const sent = await statements(() =>
      a.handle(nodeId, { kind: 'PutNode', properties: { n: '3' } }, ctx),
    );
    expect(sent).toBe(1);
    expect(await readNodeDocument(store.db, nodeId)).toMatchObject({ version: 3 });
  });
});
