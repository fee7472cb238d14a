import { randomBytes, randomUUID } from 'node:crypto';
import { evolveAll, NodeDocument, NodeEvent } from '@plexus/domain';
import { builtInModuleTypes } from '@plexus/module-runtime';
import { createTestDatabase } from '../../../test/support/databases';
import { waitFor } from '../../../test/support/ports';
import { testSecretsCipher } from '../../../test/support/secrets';
import { appendNodeWrite, NodeWrite } from './appendNodeWrites';
import { Database } from './database';
import { NodeCommandHandler } from './node-command-handler';
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

describe('NodeCommandHandler answers If-Match with the version the node is at (real Postgres)', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Database;
  const handler = () =>
    new NodeCommandHandler({ db, catalog: builtInModuleTypes(), secrets: testSecretsCipher() });

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await Database.open(testDb.url);
    await db.migrate();
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
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
    const atOne = (await readNodeDocument(db, nodeId))!;
    let refused: Promise<unknown> | undefined;
    // Another writer takes the node from version 1 to 3 in one transaction; the write with
    // If-Match 1 reads version 1 meanwhile (the winner has not committed) and its group-commit
    // statement waits for the winner's row lock.
    await db.transaction(async (sql) => {
      const second = propertyWrite(atOne, 2);
      await appendNodeWrite(sql, second);
      await appendNodeWrite(sql, propertyWrite(second.document, 3));
      refused = handler()
        .handle(nodeId, { kind: 'PutNode', properties: { b: '1' } }, { ...ctx, expectedVersion: 1 })
        .catch((err: unknown) => err);
      await waitFor('the write to wait for the row lock', async () => {
        const [{ n }] = await db.query<{ n: number }>(
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
    expect(await readNodeDocument(db, nodeId)).toMatchObject({ version: 3 });
  });
});
