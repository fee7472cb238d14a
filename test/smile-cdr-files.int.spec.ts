import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { isSecretKey, NodeDocument, REDACTED } from '@plexus/domain';
import { builtInModuleTypes, ModuleHost } from '@plexus/module-runtime';
import { parsePropertiesDetailed } from '@plexus/properties';
import { BatchJobResponder } from '../apps/worker/src/batch-job-responder';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { createTestDatabase } from './support/databases';
import { createModuleDatabase } from './support/module-database';
import { waitFor } from './support/ports';

/**
 * Real Smile CDR properties files (test/fixtures/smile-cdr, sources in its README) through the
 * real API: imported, exported key for key, and the db.url guard and batch-job visibility on
 * Smile's own PERSISTENCE_R4 modules. The control plane runs in this process; the "processes"
 * of nodes are ModuleHosts with the worker's batch-job responder, as in batch-jobs.int.spec.ts.
 */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const PATH = '/module-config/properties';
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures/smile-cdr', name), 'utf8');
const SANDBOX = fixture('smile-cdr-sandbox.master.properties');
const KEYCLOAK = fixture('keycloak-fhir-sandbox.server-postgres.properties');
const APPSPHERE = fixture('appsphere-starter.cdr-config-Master.properties');

/** The file's keys and values (the last value of a key counts, as in Java). */
const keysOf = (text: string) =>
  new Map(parsePropertiesDetailed(text).entries.map((e) => [e.key, e.value]));

/** Smile's `#{env['NAME']}` placeholders filled in, as Smile does when it starts. */
const withEnv = (text: string, env: Record<string, string>) =>
  text.replace(/#\{env\['([A-Z_]+)'\]\}/g, (placeholder, name: string) => env[name] ?? placeholder);

describe('real Smile CDR properties files (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let moduleDb: Awaited<ReturnType<typeof createModuleDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;
  const running: { host: ModuleHost; responder: BatchJobResponder; nc: NatsConnection }[] = [];

  const post = (text: string) => api.post(PATH, text, { 'content-type': 'text/plain' });
  const supportOf = (body: any, nodeId: string) =>
    Object.fromEntries(
      body.modules
        .filter((m: any) => m.nodeId === nodeId)
        .map(({ nodeId: _node, moduleId, ...rest }: any) => [moduleId, rest]),
    );

  /** Imports a fixture, exports its node and checks every key and value came back. */
  async function roundTrip(text: string, nodeId: string) {
    const imported = await post(text);
    expect([imported.status, imported.body.message]).toEqual([200, undefined]);
    const exported = await api.get(`${PATH}?nodeId=${nodeId}`);
    expect(exported.status).toBe(200);
    const original = keysOf(text);
    const again = keysOf(exported.body);
    expect([...again.keys()].sort()).toEqual([...original.keys()].sort());
    let masked = 0;
    for (const [key, value] of original) {
      const secret = isSecretKey(key);
      if (secret) masked++;
      expect([key, again.get(key)]).toEqual([key, secret ? REDACTED : value]);
    }
    // and importing the export changes nothing
    const twice = await post(exported.body);
    expect(twice.status).toBe(200);
    expect(twice.body.nodes).toEqual([expect.objectContaining({ nodeId, changed: false })]);
    return { imported: imported.body, exported: exported.body as string, masked };
  }

  /** A process of a node: applies the node's stored document and answers batch-job requests. */
  async function runProcess(nodeId: string) {
    const nc = await connect({ servers: NATS_URL });
    const catalog = builtInModuleTypes();
    const host = new ModuleHost({
      registry: catalog,
      nodeId,
      processId: `${nodeId}-p${running.length}`,
      portOffset: 0,
      logger: quiet,
      services: { nats: nc, jobTypes: catalog.jobTypes() },
    });
    const responder = new BatchJobResponder(nc, host, nodeId, quiet);
    // Redacted: db.password is ******, which the test database (trust authentication) ignores.
    const doc: NodeDocument = (await api.get(`/nodes/${nodeId}`)).body;
    const result = await host.apply(doc);
    expect(result?.ok).toBe(true);
    responder.sync();
    running.push({ host, responder, nc });
    await nc.flush();
    return result!;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    moduleDb = await createModuleDatabase('plexus_smile');
    cp = await startControlPlane({ databaseUrl: db.url });
    api = cp.api;
  });

  afterAll(async () => {
    for (const r of running) {
      r.responder.stop();
      await r.host.stopAll();
      await r.nc.close();
    }
    await cp?.close();
    await db?.drop();
    await moduleDb?.drop();
  });

  describe('import and export key for key', () => {
    it('smile-cdr-sandbox: the implicit cluster manager, and a persistence module on an env placeholder', async () => {
      // given a real file whose cluster manager has no type line
      expect(SANDBOX).not.toMatch(/^module\.clustermgr\.type/m);
      // when it is imported and exported, then every key comes back (secrets masked)
      const { imported, exported, masked } = await roundTrip(SANDBOX, 'Master');
      expect(masked).toBe(3);
      expect(exported).not.toMatch(/^module\.clustermgr\.type/m);
      // and the answer says what became of each module
      const support = supportOf(imported, 'Master');
      expect(support.clustermgr).toEqual({
        type: 'cluster-manager',
        smileType: '',
        support: 'provided',
      });
      expect(support.local_security).toEqual({
        type: 'local-security',
        smileType: 'SECURITY_IN_LOCAL',
        support: 'runs',
      });
      expect(support.persistence).toEqual({
        type: 'PERSISTENCE_R4',
        support: 'unsupported',
        reason:
          "db.driver is #{env['DB_DRIVER']}, and Plexus's persistence module runs on Postgres only",
      });
      expect(support.fhir_endpoint).toEqual({
        type: 'ENDPOINT_FHIR_REST_R4',
        support: 'unsupported',
      });
      expect(Object.keys(support)).toHaveLength(12);
      // and the cluster manager keeps its db.* keys
      const master = (await api.get('/nodes/Master')).body;
      const clustermgr = master.modules.find((m: any) => m.moduleId === 'clustermgr');
      expect(clustermgr.config['db.url']).toBe("#{env['DB_CONN_URL']}");
      expect(clustermgr.config['db.password']).toBe(REDACTED);
    });

    it('keycloak-fhir-sandbox: refused naming the line where a value runs on without a backslash', async () => {
      // given a real file whose multi-line text values lack the continuation backslash, so that
      // Java reads their second lines as keys ("Please", "client-public", ...)
      const before = (await api.get('/nodes/Master')).body.version;
      // when it is imported, then it is refused naming the first such line, and nothing changes
      const res = await post(KEYCLOAK);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^line 154: key "Please" must be node.<property> or module/);
      expect((await api.get('/nodes/Master')).body.version).toBe(before);
    });

    it('appsphere-starter: an all-H2 file, multi-line values and empty ones', async () => {
      const { imported, masked } = await roundTrip(APPSPHERE, 'Master');
      expect(masked).toBe(6);
      const support = supportOf(imported, 'Master');
      expect(support.persistence).toMatchObject({ type: 'PERSISTENCE_R4', support: 'unsupported' });
      expect(support.persistence.reason).toContain('H2_EMBEDDED');
      expect(support.local_security).toMatchObject({ type: 'local-security', support: 'runs' });
      expect(Object.keys(support)).toHaveLength(15);
    });
  });

  describe("the db.url guard and batch jobs on Smile's PERSISTENCE_R4", () => {
    const suffix = randomBytes(3).toString('hex');
    const WRITER = `fhir_${suffix}`;
    const READER = `replica_${suffix}`;
    /**
     * The smile-cdr-sandbox file as node `nodeId`, its env placeholders filled in as Smile does
     * (pointing at moduleDb), its persistence module read-only when asked.
     */
    const nodeFile = (nodeId: string, readOnly: boolean) => {
      const url = new URL(moduleDb.url);
      const file = withEnv(SANDBOX, {
        DB_DRIVER: 'POSTGRES_9_4',
        DB_CONN_URL: moduleDb.url.replace(/^postgres:/, 'jdbc:postgresql:'),
        FHIR_DB_USERNAME: decodeURIComponent(url.username),
        FHIR_DB_PASSWORD: 'unused-by-trust-auth',
      }).replace(/^node\.id(\s*)=Master$/m, `node.id$1=${nodeId}`);
      expect(file).toContain(`=${nodeId}\n`);
      return `${file}\nmodule.persistence.config.read_only_mode.enabled=${readOnly}\n`;
    };

    it('refuses a file with two writable PERSISTENCE_R4 modules on one database, storing nothing', async () => {
      // given no node yet, when a file with two nodes, both writable on the same database, is imported
      const before = (await api.get('/nodes')).body.length;
      const res = await post(`${nodeFile(WRITER, false)}\n${nodeFile(READER, false)}`);
      // then it is refused naming both modules and the fix
      expect(res.status).toBe(409);
      expect(res.body.message).toContain(`module "persistence" of node "${WRITER}"`);
      expect(res.body.message).toContain(`module "persistence" of node "${READER}"`);
      expect(res.body.message).toContain('Set read_only_mode.enabled=true');
      // and neither node exists
      expect((await api.get('/nodes')).body).toHaveLength(before);
      expect((await api.get(`/nodes/${WRITER}`)).status).toBe(404);
    });

    it('accepts a read-only duplicate, which lists the writer node’s batch jobs', async () => {
      // given the same file with the second node's persistence module read-only
      const res = await post(`${nodeFile(WRITER, false)}\n${nodeFile(READER, true)}`);
      expect(res.status).toBe(200);
      expect(res.body.nodes.map((n: any) => [n.nodeId, n.created])).toEqual([
        [WRITER, true],
        [READER, true],
      ]);
      // and making the duplicate writable later is refused too
      const patch = await api.patch(`/nodes/${READER}/modules/persistence/config`, {
        'read_only_mode.enabled': 'false',
      });
      expect(patch.status).toBe(409);
      // when a process of each node runs it (Plexus's keys only; the other modules unsupported)
      const writer = await runProcess(WRITER);
      expect(writer.modules.persistence.state).toBe('running');
      expect(writer.modules.local_security.state).toBe('running');
      expect(writer.modules.fhir_endpoint.state).toBe('unsupported');
      expect(writer.modules.clustermgr.state).toBe('unsupported');
      await runProcess(READER);
      // and a job is submitted on the writer
      const submitted = await api.post(`/nodes/${WRITER}/modules/persistence/batch-jobs`, {
        jobType: 'sample-rows',
        params: {},
      });
      expect(submitted.status).toBe(202);
      const { jobId } = submitted.body;
      await waitFor(
        'the job to succeed',
        async () => (await api.get(`/batch-jobs/${jobId}`)).body.status === 'succeeded',
        20_000,
        100,
      );
      // then the read-only duplicate on the other node lists it
      const viaReplica = await api.get(`/batch-jobs?nodeId=${READER}`);
      expect(viaReplica.status).toBe(200);
      expect(viaReplica.body.jobs.map((j: any) => j.jobId)).toContain(jobId);
      // and refuses submissions of its own
      const refused = await api.post(`/nodes/${READER}/modules/persistence/batch-jobs`, {
        jobType: 'sample-rows',
        params: {},
      });
      expect(refused.status).toBe(409);
    });
  });
});
