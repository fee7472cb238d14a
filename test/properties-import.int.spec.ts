import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import { Client } from 'pg';
import { NODES_BUCKET } from '@plexus/bus';
import { isSecretKey, REDACTED } from '@plexus/domain';
import { parsePropertiesDetailed } from '@plexus/properties';
import { createTestDatabase } from './support/databases';
import { forgetNodeDocuments } from './support/node-documents';
import { testSecretsCipher } from './support/secrets';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';

/** A Smile CDR-style file: two nodes, ~400 lines, mostly module types Plexus does not know. */
const FIXTURE = readFileSync(join(__dirname, 'fixtures/smile-cdr-cluster.properties'), 'utf8');
const PATH = '/module-config/properties';

/** The file's keys per node, split at node.id independently of the code under test. */
function keysByNode(text: string): Map<string, Map<string, string>> {
  const nodes = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const { key, value } of parsePropertiesDetailed(text).entries) {
    if (key === 'node.id') nodes.set(value, (current = new Map()));
    current!.set(key, value);
  }
  return nodes;
}

/** The 1-based line of the first line of `text` that contains `needle`. */
const lineOf = (text: string, needle: string) =>
  text.split('\n').findIndex((l) => l.includes(needle)) + 1;

interface StoredRow {
  type: string;
  payload: any;
  secret_payload: any;
  metadata: { actor: string; correlationId: string; reason?: string };
  stream_version: number;
}

describe('Smile CDR properties import and export (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  let pg: Client;

  const post = (text: string, headers: Record<string, string> = {}) =>
    api.post(PATH, text, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  const eventsOf = async (nodeId: string, afterVersion = 0) =>
    (
      await pg.query<StoredRow>(
        `SELECT type, payload, secret_payload, metadata, stream_version FROM events
         WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version`,
        [nodeId, afterVersion],
      )
    ).rows;
  const eventCount = async () =>
    Number((await pg.query(`SELECT count(*) AS n FROM events`)).rows[0].n);
  const storedDocument = async (nodeId: string) =>
    (await pg.query(`SELECT document FROM node_documents WHERE node_id = $1`, [nodeId])).rows[0]
      ?.document;
  const nodeIds = async () => (await api.get('/nodes')).body.map((n: any) => n.nodeId);
  const exported = async (query = '') => (await api.get(`${PATH}${query}`)).body as string;

  beforeAll(async () => {
    await forgetNodeDocuments(['Master', 'fhir_ro']);
    db = await createTestDatabase();
    cp = await startControlPlane({ databaseUrl: db.url });
    api = cp.api;
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await cp?.close();
    await db?.drop();
  });

  it('imports a large file: every node, module and key as written, as events of the importing actor', async () => {
    // given no nodes yet (the export is only its header) and a ~400-line file with two nodes
    // and 20 modules, 18 of types Plexus does not know
    expect(parsePropertiesDetailed(await exported()).entries).toEqual([]);
    expect(FIXTURE.split('\n').length).toBeGreaterThan(350);
    // when it is imported as text/plain
    const res = await post(FIXTURE, {
      'x-correlation-id': 'smile-migration-1',
      'x-plexus-reason': 'migrating from Smile CDR',
    });
    // then both nodes are created, in file order
    expect(res.status).toBe(200);
    expect(res.body.nodes).toEqual([
      expect.objectContaining({ nodeId: 'Master', version: 17, changed: true, created: true }),
      expect.objectContaining({ nodeId: 'fhir_ro', version: 5, changed: true, created: true }),
    ]);
    expect(res.body.nodes[0].events).toEqual(['NodeCreated', ...Array(16).fill('ModuleAdded')]);
    expect(await nodeIds()).toEqual(['Master', 'fhir_ro']);

    // and unknown module types are stored as they are, requires, activation and enabled included
    const master = (await api.get('/nodes/Master')).body;
    const byId = Object.fromEntries(master.modules.map((m: any) => [m.moduleId, m]));
    expect(byId.fhir_endpoint).toMatchObject({
      type: 'ENDPOINT_FHIR_REST_R4',
      requires: { PERSISTENCE_R4: 'persistence', SECURITY_IN_UP: 'local_security' },
      enabled: true,
      activation: 'all',
    });
    expect(byId.subscription.activation).toBe('single');
    expect(byId.package_registry.enabled).toBe(false);
    expect(byId.persistence.config['db.password']).toBe(REDACTED);
    expect(byId.hello_endpoint.config.message).toBe(
      'Grüße aus Zürich — 日本語 ok 🎉, tab\there, a #hash and a !bang, C:\\smile\\logs\\',
    );
    expect(byId.hl7v2_in.config['segment_terminator']).toBe('\r');
    expect(master.properties.description).toBe('Primary FHIR node — Zürich data centre');
    expect(master.properties['monitoring.bearer_token']).toBe(REDACTED);

    // and every event carries the importing actor, the correlation ID and the reason
    const events = [...(await eventsOf('Master')), ...(await eventsOf('fhir_ro'))];
    expect(events).toHaveLength(22);
    for (const e of events)
      expect(e.metadata).toMatchObject({
        actor: 'admin',
        correlationId: 'smile-migration-1',
        reason: 'migrating from Smile CDR',
      });
    // and secrets are stored, but only outside the payload anyone sees
    const persistence = events.find(
      (e) => e.type === 'ModuleAdded' && e.payload.moduleId === 'persistence',
    )!;
    expect(persistence.payload.config['db.password']).toBe(REDACTED);
    const stored = persistence.secret_payload.config['db.password'];
    expect(stored).toMatch(/^enc:v1:/); // encrypted at rest
    expect(testSecretsCipher().decrypt(stored)).toBe('f#ir=p@ss w0rd');
    expect(JSON.stringify(events.map((e) => e.payload))).not.toContain('sm4rt-cl13nt-s3cr3t');

    // and the relay publishes the new documents for workers to converge on
    const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
    try {
      const kv = await nc.jetstream().views.kv(NODES_BUCKET);
      await waitFor('Master v17 and fhir_ro v5 in KV', async () => {
        const [a, b] = await Promise.all([kv.get('Master'), kv.get('fhir_ro')]);
        return a?.json<any>().version === 17 && b?.json<any>().version === 5;
      });
    } finally {
      await nc.close();
    }
  });

  it('exports every node key for key in the same format, secrets masked', async () => {
    // when every node is exported
    const res = await api.get(PATH);
    // then it is a properties file with each node's section starting at its node.id line
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const text = res.body as string;
    expect(text).toMatch(/^# Node Master \(version 17, 16 modules\)\n#{80}\nnode\.id=Master$/m);
    expect(text).toMatch(/^# Node fhir_ro \(version 5, 4 modules\)\n#{80}\nnode\.id=fhir_ro$/m);

    // and every key and value of the original comes back, secrets as ******
    const original = keysByNode(FIXTURE);
    const again = keysByNode(text);
    expect([...again.keys()]).toEqual(['Master', 'fhir_ro']);
    let masked = 0;
    for (const [nodeId, keys] of original) {
      const exportedKeys = again.get(nodeId)!;
      expect([...exportedKeys.keys()].sort()).toEqual([...keys.keys()].sort());
      for (const [key, value] of keys) {
        const secret = isSecretKey(key);
        if (secret) masked++;
        expect([key, exportedKeys.get(key)]).toEqual([key, secret ? REDACTED : value]);
      }
    }
    expect(masked).toBe(12);
    for (const clear of ['f#ir=p@ss w0rd', 'm0n1t0r-3f9c2a7e', 'sm4rt-cl13nt-s3cr3t', 'r3ad-only'])
      expect(text).not.toContain(clear);

    // and one node can be exported alone, with its version as ETag, as text/x-java-properties
    const one = await api.get(`${PATH}?nodeId=fhir_ro`, { accept: 'text/x-java-properties' });
    expect(one.status).toBe(200);
    expect(one.headers.get('content-type')).toBe('text/x-java-properties; charset=utf-8');
    expect(one.headers.get('etag')).toBe('"5"');
    expect([...keysByNode(one.body).keys()]).toEqual(['fhir_ro']);
    expect((await api.get(`${PATH}?nodeId=nope`)).status).toBe(404);
    expect((await api.get(`${PATH}?nodeId=bad%20id`)).status).toBe(400);
  });

  it('changes nothing when the export is imported again (secrets keep their stored values)', async () => {
    // given the export and what is stored
    const text = await exported();
    const before = await eventCount();
    // when the export is imported as text/x-java-properties
    const res = await post(text, { 'content-type': 'text/x-java-properties' });
    // then no node changed and no event was appended
    expect(res.status).toBe(200);
    expect(res.body.nodes).toEqual([
      { nodeId: 'Master', version: 17, changed: false, created: false, events: [] },
      { nodeId: 'fhir_ro', version: 5, changed: false, created: false, events: [] },
    ]);
    expect(await eventCount()).toBe(before);
    const persistence = (await storedDocument('Master')).modules.find(
      (m: any) => m.moduleId === 'persistence',
    );
    expect(testSecretsCipher().decrypt(persistence.config['db.password'])).toBe('f#ir=p@ss w0rd');
    // and the JSON form {"properties": "<text>"} is the same import
    const json = await api.post(PATH, { properties: text });
    expect(json.status).toBe(200);
    expect(json.body.nodes.map((n: any) => n.changed)).toEqual([false, false]);
  });

  it('records only the changed keys when a changed file is imported again', async () => {
    // given the original file with a few edits to node Master
    const changed = FIXTURE.split('\n')
      .filter((l) => !l.startsWith('module.bulk_export.'))
      .filter((l) => !l.startsWith('module.persistence.config.db.hibernate_search.directory'))
      .map((l) =>
        l.startsWith('module.hello_endpoint.config.port')
          ? l.replace('=8100', '=8101')
          : l.startsWith('node.environment')
            ? l.replace('=production', '=staging')
            : l.startsWith('module.persistence.config.db.password')
              ? l.replace('f#ir=p@ss w0rd', 'rotated-2026')
              : l.startsWith('module.admin_web.config.port')
                ? `${l}\nmodule.admin_web.config.session.cookie_name = SMILE_SESSION`
                : l,
      )
      .join('\n');
    // when it is imported
    const res = await post(changed, { 'x-correlation-id': 'edit-2' });
    // then Master changed by exactly those edits and fhir_ro did not change
    expect(res.status).toBe(200);
    expect(res.body.nodes).toEqual([
      expect.objectContaining({ nodeId: 'Master', version: 22, changed: true, created: false }),
      expect.objectContaining({ nodeId: 'fhir_ro', version: 5, changed: false }),
    ]);
    const events = await eventsOf('Master', 17);
    expect(events.map((e) => e.metadata.correlationId)).toEqual(Array(5).fill('edit-2'));
    expect(events.map((e) => ({ type: e.type, data: e.payload }))).toEqual(
      expect.arrayContaining([
        {
          type: 'NodePropertiesChanged',
          data: { changes: [{ key: 'environment', old: 'production', new: 'staging' }] },
        },
        {
          type: 'ModuleConfigChanged',
          data: {
            moduleId: 'persistence',
            changes: [
              {
                key: 'db.hibernate_search.directory',
                old: './database/lucene_fhir_persistence',
                new: null,
              },
              { key: 'db.password', old: REDACTED, new: REDACTED, secret: true },
            ],
          },
        },
        {
          type: 'ModuleConfigChanged',
          data: {
            moduleId: 'admin_web',
            changes: [{ key: 'session.cookie_name', old: null, new: 'SMILE_SESSION' }],
          },
        },
        {
          type: 'ModuleConfigChanged',
          data: {
            moduleId: 'hello_endpoint',
            changes: [{ key: 'port', old: '8100', new: '8101' }],
          },
        },
        { type: 'ModuleRemoved', data: { moduleId: 'bulk_export' } },
      ]),
    );
    const password = (await storedDocument('Master')).modules.find(
      (m: any) => m.moduleId === 'persistence',
    ).config['db.password'];
    expect(testSecretsCipher().decrypt(password)).toBe('rotated-2026');
  });

  it('imports two nodes in one file: one created, one changed', async () => {
    // given the export of fhir_ro with a new message, and a new node after it
    const fhirRo = (await exported('?nodeId=fhir_ro')).replace(
      'module.status.config.message=fhir_ro is read-only',
      'module.status.config.message=fhir_ro is read-only, really',
    );
    const file = `${fhirRo}\n# a new edge node\nnode.id = edge_1\nnode.region : eu-central\nmodule.web.type = http-endpoint\nmodule.web.config.port = 8200\n`;
    // when the file is imported
    const res = await post(file);
    // then fhir_ro changed by one key and edge_1 was created
    expect(res.status).toBe(200);
    expect(res.body.nodes).toEqual([
      {
        nodeId: 'fhir_ro',
        version: 6,
        changed: true,
        created: false,
        events: ['ModuleConfigChanged'],
      },
      {
        nodeId: 'edge_1',
        version: 2,
        changed: true,
        created: true,
        events: ['NodeCreated', 'ModuleAdded'],
      },
    ]);
    expect((await eventsOf('fhir_ro', 5))[0].payload.changes).toEqual([
      { key: 'message', old: 'fhir_ro is read-only', new: 'fhir_ro is read-only, really' },
    ]);
    expect((await api.get('/nodes/edge_1')).body).toMatchObject({
      properties: { region: 'eu-central' },
      modules: [{ moduleId: 'web', type: 'http-endpoint', config: { port: '8200' } }],
    });
    // and a change through the JSON API shows in the next export
    const patched = await api.patch('/nodes/edge_1/modules/web/config', {
      message: 'from the API',
    });
    expect(patched.status).toBe(200);
    expect(await exported('?nodeId=edge_1')).toContain(
      '\nmodule.web.config.message=from the API\n',
    );
  });

  it('interleaves with writes through the JSON API on the same node', async () => {
    // given edge_1 last written through the API (v3), then changed by an import (v4)
    const file = (await exported('?nodeId=edge_1')).replace(/config\.port=\d+/, 'config.port=8202');
    const imported = await post(file);
    expect(imported.body.nodes).toEqual([
      expect.objectContaining({ nodeId: 'edge_1', version: 4 }),
    ]);
    // when the API writes again
    const patched = await api.patch('/nodes/edge_1/modules/web/config', { message: 'again' });
    // then it builds on the imported version
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(5);
    expect(patched.body.modules[0].config).toEqual({ port: '8202', message: 'again' });
  });

  it('two imports of the same new node at once: one creates it, the other finds it equal', async () => {
    const file = 'node.id=race_1\nmodule.web.type=http-endpoint\nmodule.web.config.port=8300\n';
    const answers = await Promise.all([post(file), post(file), post(file)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const nodes = answers.map((a) => a.body.nodes[0]);
    expect(nodes.filter((n) => n.created)).toHaveLength(1);
    expect(nodes.filter((n) => !n.changed)).toHaveLength(2);
    expect(nodes.map((n) => n.version)).toEqual([2, 2, 2]);
    expect((await eventsOf('race_1')).map((e) => e.type)).toEqual(['NodeCreated', 'ModuleAdded']);
  });

  describe('refuses a file whole: nothing is stored for any node', () => {
    /** The fixture under other node IDs, so that a stored node would be a new one. */
    const renamed = (suffix: string) =>
      FIXTURE.replace(/^(node\.id\s*=\s*)Master$/m, `$1Master${suffix}`).replace(
        /^node\.id : fhir_ro$/m,
        `node.id : fhir_ro${suffix}`,
      );
    let before: { count: number; nodes: string[] };
    beforeEach(async () => {
      before = { count: await eventCount(), nodes: await nodeIds() };
    });
    const expectNothingStored = async () => {
      expect(await eventCount()).toBe(before.count);
      expect(await nodeIds()).toEqual(before.nodes);
    };

    it('a malformed escape deep in the second node: 400 naming the line', async () => {
      const file = renamed('_a').replace('=r3ad-only', '=r3ad\\u00zz-only');
      const line = lineOf(file, 'r3ad\\u00zz-only');
      expect(line).toBeGreaterThan(370);
      const res = await post(file);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(new RegExp(`^line ${line}: malformed escaped unicode`));
      await expectNothingStored();
    });

    it('a key that is neither node.* nor module.<id>.*: 400 naming the line', async () => {
      const file = renamed('_b').replace(
        'node.server_port_offset=100',
        'node.server_port_offset=100\nserver.port=8000',
      );
      const res = await post(file);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(
        new RegExp(`^line ${lineOf(file, 'server.port=8000')}: key "server.port" must be`),
      );
      await expectNothingStored();
    });

    it('bytes that are not UTF-8: 400 naming the line', async () => {
      const file = renamed('_c');
      const at = file.indexOf('Zürich data centre');
      const bytes = Buffer.concat([
        Buffer.from(file.slice(0, at)),
        Buffer.from([0xc3, 0x28]),
        Buffer.from(file.slice(at)),
      ]);
      const res = await fetch(cp.url + PATH, {
        method: 'POST',
        headers: { authorization: `Bearer ${api.token}`, 'content-type': 'text/plain' },
        body: bytes,
      });
      expect(res.status).toBe(400);
      expect((await res.json()).message).toMatch(
        new RegExp(`^line ${lineOf(file, 'Zürich data centre')}: the file is not valid UTF-8`),
      );
      await expectNothingStored();
    });

    it('an invalid config of a known module type in the second node: 400, the first node not stored either', async () => {
      const file = renamed('_d').replace(
        /^(module\.status\.config\.port\s*=)8101/m,
        '$1eighty-one hundred',
      );
      const res = await post(file);
      expect(res.status).toBe(400);
      expect(res.body.message).toBe(
        `line ${lineOf(file, 'module.status.type')}: node "fhir_ro_d": module "status" (type http-endpoint): ` +
          'config.port must be an integer from 0 to 65535 (nothing of this file was imported)',
      );
      await expectNothingStored();
    });

    it('an existing node of the file stays as it is when another node is invalid', async () => {
      const edge = await api.get('/nodes/edge_1');
      const file =
        (await exported('?nodeId=edge_1')).replace(/config\.port=\d+/, 'config.port=8203') +
        '\nnode.id=edge_2\nmodule.a.type=SOMETHING\nmodule.a.requires.PERSISTENCE_R4=missing\n';
      const res = await post(file);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/node "edge_2": requires\.PERSISTENCE_R4 of module "a"/);
      expect((await api.get('/nodes/edge_1')).body.version).toBe(edge.body.version);
      await expectNothingStored();
    });

    it('a masked secret where none is stored, a node given twice, a file without a node', async () => {
      const masked = await post(
        'node.id=fresh\nmodule.db.type=X\nmodule.db.config.db.password=******\n',
      );
      expect(masked.status).toBe(400);
      expect(masked.body.message).toMatch(
        /^line 2: node "fresh": modules\.db\.config\.db\.password is "\*\*\*\*\*\*" but no value is stored/,
      );
      const twice = await post('node.id=x1\nnode.a=1\n\nnode.id=x1\n');
      expect(twice.body.message).toBe('line 4: node "x1" is given twice (first at line 1)');
      const none = await post('# only a comment\n');
      expect(none.status).toBe(400);
      expect(none.body.message).toMatch(/the file names no node/);
      await expectNothingStored();
    });

    it('other media types, If-Match over several nodes, and bodies over 1 MiB', async () => {
      const xml = await api.post(PATH, '<x/>', { 'content-type': 'application/xml' });
      expect(xml.status).toBe(415);
      expect((await api.post(PATH, { file: 'node.id=a' })).status).toBe(400);
      const ifMatch = await post(renamed('_e'), { 'if-match': '"1"' });
      expect(ifMatch.status).toBe(400);
      expect(ifMatch.body.message).toMatch(/If-Match applies to one node/);
      const stale = await post(await exported('?nodeId=edge_1'), { 'if-match': '"1"' });
      expect(stale.status).toBe(412);
      const big = await post(`node.id=big\nnode.x=${'y'.repeat(1024 * 1024)}\n`);
      expect(big.status).toBe(413);
      expect(big.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
      await expectNothingStored();
    });
  });
});
