import { createHash, randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { Client } from 'pg';
import { NODES_BUCKET } from '@plexus/bus';
import { Database } from '@plexus/event-store';
import { hashPassword } from '@plexus/module-runtime';
import { SecretsCipher } from '@plexus/secrets-crypto';
import { rotateSecrets } from '../apps/control-plane/src/secrets-rotation/rotate-secrets';
import { createTestDatabase } from './support/databases';
import { AdminApi, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
jest.setTimeout(120_000); // three control plane starts and a hundred writes, on two busy cores
const keyA = randomBytes(32);
const keyB = randomBytes(32);
const idOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);
const b64 = (key: Buffer) => key.toString('base64');

/** Every `enc:v1:<key ID>:` value in some stored JSON, by key ID. */
function keyIdsIn(stored: unknown): Map<string, number> {
  const ids = new Map<string, number>();
  for (const [, id] of JSON.stringify(stored).matchAll(/"enc:v1:([0-9a-f]{8}):[A-Za-z0-9_-]+"/g))
    ids.set(id, (ids.get(id) ?? 0) + 1);
  return ids;
}

describe('secrets key rotation (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pg: Client;
  let nc: NatsConnection;
  const nodeId = `rotate-${randomBytes(4).toString('hex')}`;
  /** A node written under key A only: its stored document still holds A's ciphertexts then. */
  const idleNodeId = `${nodeId}-idle`;

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    nc = await connect({ servers: NATS_URL });
    const store = await Database.open(db.url); // creates the database
    await store.migrate();
    await store.close();
    await pg.connect();
  });
  afterAll(async () => {
    await nc?.close();
    await pg?.end();
    await db?.drop();
  });

  /** A control plane with these keys for the duration of `work`. */
  async function withControlPlane(
    env: Record<string, string>,
    work: (api: AdminApi) => Promise<void>,
  ) {
    const cp = await startControlPlane({ databaseUrl: db.url, env });
    try {
      await work(cp.api);
    } finally {
      await cp.close();
    }
  }
  const ok = async (res: Promise<{ status: number; body: any }>) => {
    const r = await res;
    if (r.status >= 300) throw new Error(`${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const stored = async () => ({
    projection: (await pg.query('SELECT document FROM node_documents')).rows,
    snapshots: (await pg.query('SELECT document FROM node_snapshots')).rows,
    events: (await pg.query('SELECT secret_payload FROM events WHERE secret_payload IS NOT NULL'))
      .rows,
    hooks: (await pg.query('SELECT secret FROM hooks')).rows,
  });
  const published = async (node: string, version: number) => {
    const kv = await nc.jetstream().views.kv(NODES_BUCKET);
    return waitFor(`version ${version} of ${node} in the bucket`, async () => {
      const doc = (await kv.get(node))?.json<any>();
      return doc?.version >= version && doc;
    });
  };

  it('written with key A, read with B and previous A, re-encrypted, then read with B alone', async () => {
    const users = `alice:${await hashPassword('alice-pw')}`;
    const timeouts = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
    // given a node with secrets, written with key A, past a snapshot, and a webhook secret
    await withControlPlane({ PLEXUS_SECRETS_KEY: b64(keyA) }, async (api) => {
      await ok(api.put(`/nodes/${nodeId}`, { properties: { api_token: 'tok-A' } }));
      await ok(api.put(`/nodes/${idleNodeId}`, { properties: { api_token: 'idle-A' } }));
      await ok(
        api.put(`/nodes/${nodeId}/modules/sec`, {
          type: 'local-security',
          config: { users, 'sessions.timeout.mins': '5' },
        }),
      );
      await ok(
        api.put(`/nodes/${nodeId}/modules/db`, {
          type: 'persistence',
          config: { 'db.url': `postgres://db.internal/${nodeId}`, 'db.password': 'pw-A' },
        }),
      );
      for (const t of timeouts(10, 100))
        await ok(
          api.patch(`/nodes/${nodeId}/modules/sec/config`, { 'sessions.timeout.mins': String(t) }),
        );
      await ok(
        api.post('/hooks', {
          url: 'https://hooks.example.com/plexus',
          events: ['ScaleRecommended'],
          secret: 'hook-secret-0123456789',
        }),
      );
      expect([...keyIdsIn(await published(idleNodeId, 1)).keys()]).toEqual([idOf(keyA)]);
    });
    expect([...keyIdsIn(await stored()).keys()]).toEqual([idOf(keyA)]);

    // when control planes restart with key B, A as the previous key: everything still reads
    await withControlPlane(
      { PLEXUS_SECRETS_KEY: b64(keyB), PLEXUS_SECRETS_KEY_PREVIOUS: b64(keyA) },
      async (api) => {
        expect((await ok(api.get(`/nodes/${nodeId}?version=2`))).modules[0].config.users).toBe(
          '******',
        );
        const diff = await ok(api.get(`/nodes/${nodeId}/diff?from=3&to=103`));
        expect(diff.modulesChanged).toEqual([
          { moduleId: 'sec', config: [{ key: 'sessions.timeout.mins', old: '5', new: '109' }] },
        ]);
        // a masked secret sent back keeps the A-encrypted value; a write is sealed with B
        await ok(
          api.put(`/nodes/${nodeId}/modules/db`, {
            type: 'persistence',
            config: {
              'db.url': `postgres://db.internal/${nodeId}`,
              'db.password': '******',
              'db.username': 'cdr',
            },
          }),
        ); // v104
        expect([...keyIdsIn(await stored()).keys()].sort()).toEqual(
          [idOf(keyA), idOf(keyB)].sort(),
        );

        // and the rotation re-encrypts every stored secret with B, and publishes the documents
        const store = await Database.open(db.url, { poolSize: 2 });
        try {
          const cipher = new SecretsCipher(keyB, [keyA]);
          // one row per batch, so that every batch boundary is crossed
          const report = await rotateSecrets({ db: store, nc, cipher, batchSize: 1 });
          expect(report).toMatchObject({
            keyId: idOf(keyB),
            // the idle node's (the other was written with B since)
            nodeDocuments: { scanned: 2, reencrypted: 1 },
            nodeSnapshots: { scanned: 1, reencrypted: 1 },
            hooks: { scanned: 1, reencrypted: 1 },
            published: 1,
          });
          expect(report.events.reencrypted).toBeGreaterThanOrEqual(4);
          // idempotent: a second run finds nothing to do
          const again = await rotateSecrets({ db: store, nc, cipher, batchSize: 1 });
          expect(again).toMatchObject({
            nodeDocuments: { reencrypted: 0 },
            nodeSnapshots: { reencrypted: 0 },
            events: { scanned: report.events.scanned, reencrypted: 0 },
            hooks: { reencrypted: 0 },
            published: 0,
          });
        } finally {
          await store.close();
        }
      },
    );
    const after = await stored();
    expect([...keyIdsIn(after).keys()]).toEqual([idOf(keyB)]);
    expect(keyIdsIn(after.events).get(idOf(keyB))).toBeGreaterThanOrEqual(4);
    expect(keyIdsIn(after.hooks).get(idOf(keyB))).toBe(1);
    expect([...keyIdsIn(await published(nodeId, 104)).keys()]).toEqual([idOf(keyB)]);
    expect([...keyIdsIn(await published(idleNodeId, 1)).keys()]).toEqual([idOf(keyB)]);
    const cipherB = new SecretsCipher(keyB);
    const documentOf = (rows: { document: any }[], node: string) =>
      rows.find((r) => r.document.nodeId === node)!.document;
    const sec = documentOf(after.projection, nodeId).modules.find((m: any) => m.moduleId === 'sec');
    expect(cipherB.decrypt(sec.config.users)).toBe(users);

    // then with key B alone: time travel, diff, revert and writes all work
    await withControlPlane({ PLEXUS_SECRETS_KEY: b64(keyB) }, async (api) => {
      expect((await ok(api.get(`/nodes/${nodeId}?version=2`))).version).toBe(2);
      const diff = await ok(api.get(`/nodes/${nodeId}/diff?from=2&to=104`));
      expect(JSON.stringify(diff)).not.toMatch(/alice:|pw-A|tok-A/);
      const reverted = await ok(
        api.post(`/nodes/${nodeId}/revert`, { toVersion: 3, reason: 'back' }),
      );
      expect(reverted.modules.map((m: any) => [m.moduleId, m.config])).toEqual([
        ['sec', { users: '******', 'sessions.timeout.mins': '5' }],
        ['db', { 'db.url': `postgres://db.internal/${nodeId}`, 'db.password': '******' }],
      ]);
      await ok(
        api.patch(`/nodes/${nodeId}/modules/sec/config`, {
          users: '******',
          'sessions.timeout.mins': '7',
        }),
      );
    });
    const last = await stored();
    expect([...keyIdsIn(last).keys()]).toEqual([idOf(keyB)]);
    const final = documentOf(last.projection, nodeId);
    expect(cipherB.decrypt(final.properties.api_token)).toBe('tok-A');
    expect(cipherB.decrypt(documentOf(last.projection, idleNodeId).properties.api_token)).toBe(
      'idle-A',
    );
    expect(cipherB.decrypt(final.modules[0].config.users)).toBe(users);
  });
});
