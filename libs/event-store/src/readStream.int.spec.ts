import { emptyNode, evolve, NodeDocument, NodeEvent } from '@plexus/domain';
import { builtInModuleTypes } from '@plexus/module-runtime';
import { migratedTestDatabase } from '../../../test/support/migrated-database';
import { testSecretsCipher } from '../../../test/support/secrets';
import { NodeCommandHandler } from './node-command-handler';
import { readNodeDocumentAt } from './readStream';
import { openDocument } from './secrets-at-rest';

describe('readNodeDocumentAt (real Postgres)', () => {
  const store = migratedTestDatabase();
  const times: Date[] = [];

  beforeAll(async () => {
    const handler = new NodeCommandHandler({
      db: store.db,
      catalog: builtInModuleTypes(),
      secrets: testSecretsCipher(),
    });
    const ctx = { actor: 'test', correlationId: 'history' };
    await handler.handle('deep', { kind: 'PutNode', properties: { db_password: 's3cret' } }, ctx);
    await handler.handle(
      'deep',
      {
        kind: 'PutModule',
        moduleId: 'web',
        module: {
          type: 'http-endpoint',
          config: { port: '80' },
          requires: {},
          enabled: true,
          activation: 'all',
        },
      },
      ctx,
    );
    for (let i = 3; i <= 250; i++) {
      await handler.handle(
        'deep',
        { kind: 'PatchModuleConfig', moduleId: 'web', changes: { message: `v${i}` } },
        ctx,
      );
      // A Date has whole milliseconds and recorded_at microseconds: a write that took less than a
      // millisecond would otherwise be recorded after the moment taken just after it.
      if (i % 50 === 0) {
        await new Promise((r) => setTimeout(r, 2));
        times[i] = new Date();
      }
    }
  });

  /** Documents as the API sees them: secrets decrypted (stored ciphertexts differ by their IVs). */
  const opened = (doc: NodeDocument | null) =>
    doc && openDocument(doc, builtInModuleTypes(), testSecretsCipher());

  /** The document at `version` by replaying the whole stream: what a snapshot must agree with. */
  async function fullReplay(version: number) {
    const rows = await store.db.query<{ type: string; payload: any; secret_payload: any }>(
      'SELECT type, payload, secret_payload FROM events WHERE stream_id = $1 AND stream_version <= $2 ORDER BY stream_version',
      ['deep', version],
    );
    return rows.reduce(
      (doc, r) => evolve(doc, { type: r.type, data: r.secret_payload ?? r.payload } as NodeEvent),
      emptyNode('deep'),
    );
  }

  it('writes snapshots as versions pass multiples of 100, and rebuilds any version equal to a full replay', async () => {
    const snapshots = await store.db.query<{ version: number }>(
      'SELECT version FROM node_snapshots WHERE node_id = $1 ORDER BY version',
      ['deep'],
    );
    expect(snapshots.map((s) => s.version)).toEqual([100, 200]);
    for (const version of [1, 2, 99, 100, 101, 199, 200, 201, 250]) {
      const doc = await readNodeDocumentAt(store.db, 'deep', { version });
      expect(opened(doc)).toEqual(opened(await fullReplay(version)));
    }
    expect(
      (await readNodeDocumentAt(store.db, 'deep', { version: 150 }))!.modules[0].config.message,
    ).toBe('v150');
    const at150 = opened(await readNodeDocumentAt(store.db, 'deep', { version: 150 }));
    expect(at150!.properties.db_password).toBe('s3cret');
  });

  it('rebuilds by moment as well', async () => {
    for (const version of [50, 100, 150, 200, 250]) {
      const doc = await readNodeDocumentAt(store.db, 'deep', { asOf: times[version] });
      expect(doc!.version).toBe(version);
    }
  });

  it('backfills snapshots missing for streams written before they existed', async () => {
    await store.db.query('DELETE FROM node_snapshots WHERE node_id = $1', ['deep']);
    expect(await readNodeDocumentAt(store.db, 'deep', { version: 230 })).toEqual(
      await fullReplay(230),
    );
    const snapshots = await store.db.query<{ version: number }>(
      'SELECT version FROM node_snapshots WHERE node_id = $1 ORDER BY version',
      ['deep'],
    );
    expect(snapshots.map((s) => s.version)).toEqual([100, 200]);
    expect(await readNodeDocumentAt(store.db, 'deep', { version: 199 })).toEqual(
      await fullReplay(199),
    );
  });

  it('returns null before the first event', async () => {
    expect(
      await readNodeDocumentAt(store.db, 'deep', { asOf: new Date('2001-01-01T00:00:00Z') }),
    ).toBeNull();
    expect(await readNodeDocumentAt(store.db, 'nobody', { version: 3 })).toBeNull();
  });
});
