import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { evolveAll, NodeDocument, NodeEvent } from '@plexus/domain';
import {
  appendNodeWrites,
  Database,
  NodeWrite,
  NodeWritesOutcome,
  readNodeDocuments,
} from '@plexus/event-store';
import { createTestDatabase, SHARED_POSTGRES } from './support/databases';
import { RunningControlPlane, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';

/**
 * Node IDs whose order under a linguistic collation (ICU en-US, the kind of default a Postgres
 * initialised under en_US.UTF-8 has) differs from their byte order: letters before case,
 * punctuation ignored at first, where bytes put every capital before every small letter.
 */
const NODE_IDS = [0, 1, 2, 3].flatMap((k) => [
  `a_b${k}`,
  `a.b${k}`,
  `A1${k}`,
  `a-1${k}`,
  `B${k}`,
  `b${k}`,
  `a1${k}`,
]);
/** First in byte order, fifth under en-US: a_b0, a-10, a.b0, a10 come before it there. */
const FIRST_IN_BYTES = 'A10';
const PATH = '/module-config/properties';
const ROUNDS = 25;

const fileOf = (nodeIds: string[], value: string) =>
  nodeIds.map((id) => `node.id=${id}\nnode.round=${value}\n`).join('\n');

/** A group-commit write that sets property `round` on a stored node. */
function roundWrite(doc: NodeDocument, value: string): NodeWrite {
  const events: NodeEvent[] = [
    {
      type: 'NodePropertiesChanged',
      data: { changes: [{ key: 'round', old: doc.properties.round ?? null, new: value }] },
    },
  ];
  return {
    nodeId: doc.nodeId,
    expectedVersion: doc.version,
    document: evolveAll(doc, events),
    events: events.map((e) => ({
      eventId: randomUUID(),
      type: e.type,
      data: e.data as Record<string, unknown>,
      metadata: { actor: 'test', correlationId: 'lock-order' },
    })),
  };
}

/**
 * The properties import (one transaction over several nodes) and the group commit (one statement
 * over several nodes) lock node rows. If they lock them in different orders, two of them over
 * the same nodes can deadlock: Postgres kills one after deadlock_timeout. Each test runs on a
 * database whose collation is ICU en-US, where the collation's order is not the bytes' order.
 */
describe('one lock order for node rows, whatever the database collation (real Postgres)', () => {
  let admin: Client;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane | undefined;
  let store: Database | undefined;

  const importFile = (text: string) =>
    cp!.api.post(PATH, text, { 'content-type': 'text/plain; charset=utf-8' });

  /** Deadlocks Postgres detected in the test's database, once every session of it has ended. */
  async function deadlocksDetected(): Promise<number> {
    await cp?.close(); // their backends exit, which flushes their statistics
    cp = undefined;
    await store?.close();
    store = undefined;
    const { rows } = await admin.query<{ deadlocks: string }>(
      'SELECT deadlocks FROM pg_stat_database WHERE datname = $1',
      [db.name],
    );
    return Number(rows[0].deadlocks);
  }

  beforeAll(async () => {
    admin = new Client({ connectionString: `${SHARED_POSTGRES}/postgres` });
    await admin.connect();
  });
  afterAll(() => admin?.end());

  beforeEach(async () => {
    db = await createTestDatabase();
    await admin.query(
      `CREATE DATABASE "${db.name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`,
    );
    cp = await startControlPlane({
      databaseUrl: db.url,
      // A write that arrives while one statement is in flight joins the next: multi-node statements.
      env: { GROUP_COMMIT_IN_FLIGHT: '1' },
    });
    expect((await importFile(fileOf(NODE_IDS, 'start'))).status).toBe(200);
  });
  afterEach(async () => {
    await cp?.close();
    await store?.close();
    await db?.drop();
  });

  it('the database collation orders these IDs differently from their bytes', async () => {
    const order = async (collate: string) =>
      (
        await admin.query<{ ids: string[] }>(
          `SELECT array_agg(id ORDER BY id${collate}) AS ids FROM unnest($1::text[]) id`,
          [NODE_IDS],
        )
      ).rows[0].ids;
    expect(await order(' COLLATE "en-US-x-icu"')).not.toEqual(await order(' COLLATE "C"'));
    expect((await order(' COLLATE "C"'))[0]).toBe(FIRST_IN_BYTES);
  });

  it('an import and a group commit queued behind the same row both go through', async () => {
    store = await Database.open(db.url, { poolSize: 2 });
    const docs = await readNodeDocuments(store, NODE_IDS);
    const waiting = async () =>
      Number(
        (
          await admin.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
            [db.name],
          )
        ).rows[0].n,
      );
    // Another session holds the row that comes first in bytes: the group commit queues behind it
    // first, then the import, each having locked what comes before it in its own order.
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    let groupCommit: Promise<NodeWritesOutcome | Error>;
    let imported: ReturnType<typeof importFile>;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM node_documents WHERE node_id = $1 FOR UPDATE', [
        FIRST_IN_BYTES,
      ]);
      groupCommit = appendNodeWrites(
        store,
        docs.map((d) => roundWrite(d, 'group-commit')),
      ).catch((err: Error) => err);
      await waitFor('the group commit to wait for the row', async () => (await waiting()) === 1);
      imported = importFile(fileOf(NODE_IDS, 'import'));
      await waitFor('the import to wait too', async () => (await waiting()) === 2);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }

    const applied = await groupCommit;
    expect(applied instanceof Error ? applied.message : [...applied.committed].sort()).toEqual(
      [...NODE_IDS].sort(),
    );
    expect((await imported).status).toBe(200);
    const stored = await readNodeDocuments(store, NODE_IDS);
    expect(new Set(stored.map((d) => d.properties.round))).toEqual(new Set(['import']));
    expect(await deadlocksDetected()).toBe(0);
  });

  it('imports and group commits over the same nodes, many at once, never deadlock', async () => {
    const statuses: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const answers = await Promise.all([
        importFile(fileOf(NODE_IDS, `import-a-${round}`)),
        importFile(fileOf([...NODE_IDS].reverse(), `import-b-${round}`)),
        ...NODE_IDS.map((id) =>
          cp!.api.put(`/nodes/${id}`, { properties: { round: `put-${round}` } }),
        ),
      ]);
      statuses.push(...answers.map((a) => a.status));
    }
    // 503: a write that outlasted the 1 s Postgres timeout on two busy cores (clients retry it).
    expect({
      deadlocks: await deadlocksDetected(),
      unexpected: statuses.filter((s) => s !== 200 && s !== 503),
    }).toEqual({ deadlocks: 0, unexpected: [] });
  });
});
