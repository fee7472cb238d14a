import { createHash, randomBytes } from 'node:crypto';
import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { connect, NatsConnection } from 'nats';
import { firstValueFrom, timeout } from 'rxjs';
import { Client } from 'pg';
import { NODES_BUCKET, SeedNodeReply, seedNodeSubject } from '@plexus/bus';
import { hashPassword } from '@plexus/module-runtime';
import { createTestDatabase } from './support/databases';
import { eventsOnStream } from './support/event-stream';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const PROPERTIES = '/module-config/properties';
const nodeName = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
/** This file's key, so that its ID in the stored values is known. */
const KEY = randomBytes(32);
const KEY_ID = createHash('sha256').update(KEY).digest('hex').slice(0, 8);
const CIPHERTEXT = new RegExp(`^enc:v1:${KEY_ID}:[A-Za-z0-9_-]{20,}$`);

describe('secrets (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  let pg: Client;
  let nc: NatsConnection;
  let usersHash: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane({
      databaseUrl: db.url,
      env: { PLEXUS_SECRETS_KEY: KEY.toString('base64') },
    });
    api = cp.api;
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    nc = await connect({ servers: NATS_URL });
    usersHash = `alice:${await hashPassword('alice-password')}`;
  });

  afterAll(async () => {
    await nc?.close();
    await pg?.end();
    await cp?.close();
    await db?.drop();
  });

  const ok = async (res: Promise<{ status: number; body: any }>) => {
    const r = await res;
    if (r.status >= 300) throw new Error(`${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const security = (users: string) => ({
    type: 'local-security',
    config: { users, 'sessions.timeout.mins': '30' },
  });
  /** The part of a scrypt hash that is unique to it (its salt and key). */
  const hashTail = () => usersHash.split('$').slice(-2).join('$');

  /** Everything an API client, a NATS consumer or an auditor can read about a node, as text. */
  async function everythingShown(nodeId: string, versions: number) {
    const shown: unknown[] = [];
    shown.push(await ok(api.get(`/events?nodeId=${nodeId}&limit=1000`)));
    shown.push(
      await waitFor(`${versions} events of ${nodeId} on the NATS stream`, async () => {
        const events = await eventsOnStream(nc, nodeId);
        return events.length >= versions && events;
      }),
    );
    for (let v = 1; v <= versions; v++) {
      shown.push(await ok(api.get(`/nodes/${nodeId}?version=${v}`)));
      for (let to = v + 1; to <= versions; to++)
        shown.push(await ok(api.get(`/nodes/${nodeId}/diff?from=${v}&to=${to}`)));
    }
    shown.push(await ok(api.get(`/nodes/${nodeId}?asOf=${new Date().toISOString()}`)));
    shown.push(await ok(api.get(`/nodes/${nodeId}`)));
    shown.push((await api.get(`${PROPERTIES}?nodeId=${nodeId}`)).body);
    shown.push((await api.get(PROPERTIES)).body);
    return JSON.stringify(shown);
  }

  it('a local-security module re-put as http-endpoint never shows its hashes: events, NATS stream, diff, time travel, revert, export', async () => {
    const nodeId = nodeName('retype');
    await ok(api.put(`/nodes/${nodeId}`, { properties: {} }));
    await ok(api.put(`/nodes/${nodeId}/modules/sec`, security(usersHash))); // v2
    // when the module is re-put as another type: the users key goes
    await ok(
      api.put(`/nodes/${nodeId}/modules/sec`, {
        type: 'http-endpoint',
        config: { port: '18080', message: 'now a web endpoint' },
      }),
    ); // v3
    // and reverted to the security module, and back to the endpoint
    const back = await ok(api.post(`/nodes/${nodeId}/revert`, { toVersion: 2, reason: 'undo' }));
    expect(back.modules[0]).toMatchObject({ type: 'local-security', config: { users: '******' } });
    await ok(api.post(`/nodes/${nodeId}/revert`, { toVersion: 3, reason: 'redo' })); // v5

    // then no answer, event or published copy holds the hash
    const shown = await everythingShown(nodeId, 5);
    expect(shown).toContain('******');
    expect(shown).not.toContain(hashTail());
  });

  it('an import that turns the module into a type this cluster does not know keeps a masked secret, and hidden', async () => {
    const nodeId = nodeName('legacy');
    await ok(api.put(`/nodes/${nodeId}`, { properties: {} }));
    await ok(api.put(`/nodes/${nodeId}/modules/sec`, security(usersHash))); // v2
    const exported: string = (await api.get(`${PROPERTIES}?nodeId=${nodeId}`)).body;
    expect(exported).toContain('module.sec.config.users=******');
    // when the export is imported with the module's type changed to one only Smile CDR knows
    const edited = exported.replace(
      'module.sec.type=local-security',
      'module.sec.type=SMILE_LEGACY_SECURITY',
    );
    const imported = await api.post(PROPERTIES, edited, { 'content-type': 'text/plain' });
    expect(imported.status).toBe(200);
    // then the stored hash is kept (not replaced by the mask) and still never shown
    const shown = await everythingShown(nodeId, 3);
    expect(shown).not.toContain(hashTail());
    expect((await ok(api.get(`/nodes/${nodeId}`))).modules[0]).toMatchObject({
      type: 'SMILE_LEGACY_SECURITY',
      config: { users: '******' },
    });
    const reverted = await api.post(`/nodes/${nodeId}/revert`, { toVersion: 2, reason: 'back' });
    expect(reverted.status).toBe(200);
    expect(JSON.stringify(reverted.body)).not.toContain(hashTail());
    expect(JSON.stringify(await ok(api.get(`/events?nodeId=${nodeId}`)))).not.toContain(hashTail());
  });

  it('refuses credentials inside db.url with 400 pointing at db.password: JSON API, import and first start', async () => {
    const nodeId = nodeName('dburl');
    await ok(api.put(`/nodes/${nodeId}`, { properties: {} }));
    const before = Number((await pg.query('SELECT count(*) AS n FROM events')).rows[0].n);
    const url = 'postgres://cdr:pl41n-s3cret@db.internal:5432/cdr';
    const put = await api.put(`/nodes/${nodeId}/modules/db`, {
      type: 'persistence',
      config: { 'db.url': url },
    });
    expect(put.status).toBe(400);
    expect(put.body.message).toMatch(/db\.url must not hold credentials.*db\.password/);
    expect(put.body.message).not.toContain('pl41n-s3cret');

    const file = `node.id=${nodeId}\nmodule.db.type=persistence\nmodule.db.config.db.url=jdbc:postgresql://db.internal:5432/cdr?user=cdr&password=pl41n-s3cret\n`;
    const imported = await api.post(PROPERTIES, file, { 'content-type': 'text/plain' });
    expect(imported.status).toBe(400);
    expect(imported.body.message).toMatch(/db\.url must not hold credentials.*db\.password/);

    const client: ClientProxy = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: { servers: NATS_URL },
    });
    try {
      const seededId = nodeName('seed');
      const reply = await firstValueFrom(
        client
          .send<SeedNodeReply>(seedNodeSubject(seededId), {
            nodeId: seededId,
            processId: 'p-test',
            properties: { 'module.db.type': 'persistence', 'module.db.config.db.url': url },
          })
          .pipe(timeout(10_000)),
      );
      expect(reply).toMatchObject({ ok: false, statusCode: 400 });
      expect(!reply.ok && reply.message).toMatch(/db\.url must not hold credentials/);
    } finally {
      await client.close();
    }
    expect(Number((await pg.query('SELECT count(*) AS n FROM events')).rows[0].n)).toBe(before);
  });

  it('stores and publishes secret values only encrypted: projection, snapshots, events and the NATS document', async () => {
    const nodeId = nodeName('atrest');
    const token = `tok-${randomBytes(6).toString('hex')}`;
    const password = `pw-${randomBytes(6).toString('hex')}`;
    await ok(api.put(`/nodes/${nodeId}`, { properties: { api_token: token, region: 'eu' } }));
    await ok(api.put(`/nodes/${nodeId}/modules/sec`, security(usersHash)));
    await ok(
      api.put(`/nodes/${nodeId}/modules/db`, {
        type: 'persistence',
        config: { 'db.url': `postgres://db.internal:5432/${nodeId}`, 'db.password': password },
      }),
    );
    // past a snapshot (every 100 versions), with the secrets kept by "******"
    for (let i = 0; i < 98; i++)
      await ok(
        api.put(`/nodes/${nodeId}/modules/sec`, {
          type: 'local-security',
          config: { users: '******', 'sessions.timeout.mins': String(10 + i) },
        }),
      );
    const plaintexts = [token, password, hashTail()];

    const [projection] = (
      await pg.query('SELECT document FROM node_documents WHERE node_id = $1', [nodeId])
    ).rows;
    const snapshots = (
      await pg.query('SELECT document FROM node_snapshots WHERE node_id = $1', [nodeId])
    ).rows;
    const secretData = (
      await pg.query(
        'SELECT secret_payload FROM events WHERE stream_id = $1 AND secret_payload IS NOT NULL',
        [nodeId],
      )
    ).rows;
    const kv = await nc.jetstream().views.kv(NODES_BUCKET);
    const published = await waitFor('version 101 in the nodes bucket', async () => {
      const doc = (await kv.get(nodeId))?.json<any>();
      return doc?.version === 101 && doc;
    });
    expect(snapshots).toHaveLength(1);
    expect(secretData.length).toBeGreaterThanOrEqual(3);

    for (const stored of [projection.document, snapshots[0].document, published]) {
      expect(stored.properties).toEqual({
        api_token: expect.stringMatching(CIPHERTEXT),
        region: 'eu',
      });
      const byId = Object.fromEntries(stored.modules.map((m: any) => [m.moduleId, m.config]));
      expect(byId.sec.users).toMatch(CIPHERTEXT);
      expect(byId.db['db.password']).toMatch(CIPHERTEXT);
      expect(byId.db['db.url']).toBe(`postgres://db.internal:5432/${nodeId}`);
    }
    // a write encrypts only what it changes: the users kept by "******" kept their ciphertext
    const usersOf = (d: any) => d.modules.find((m: any) => m.moduleId === 'sec').config.users;
    expect(usersOf(snapshots[0].document)).toBe(usersOf(projection.document));
    const raw = JSON.stringify([projection, snapshots, secretData, published]);
    for (const plain of plaintexts) expect(raw).not.toContain(plain);
    const values = JSON.stringify(secretData).match(/"enc:v1:[^"]+"/g) ?? [];
    expect(values.length).toBeGreaterThanOrEqual(3);

    // and the API still works on them: "******" keeps the stored value, a diff sees no change
    const diff = await ok(api.get(`/nodes/${nodeId}/diff?from=3&to=101`));
    expect(diff.modulesChanged).toEqual([
      { moduleId: 'sec', config: [{ key: 'sessions.timeout.mins', old: '30', new: '107' }] },
    ]);
  });
});
