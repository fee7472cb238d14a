import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hashPassword } from '@plexus/module-runtime';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { createModuleDatabase } from './support/module-database';
import { freePortBlock, waitFor } from './support/ports';

/**
 * Smile CDR's clustering guide's multi-node design, built with Plexus from one properties file:
 * admin_node (a console endpoint and a read-only duplicate of fhir_node's persistence module),
 * auth_node (local security behind an endpoint: logins shared by its processes) and fhir_node
 * (the FHIR endpoint, the writable persistence module, and a local index run active/passive).
 * Each node gets its own scaling policy and a supervisor; each runs its own number of processes,
 * and one node is scaled without touching the others.
 */
describe("Smile CDR's multi-node design from one properties file", () => {
  const STEP = 10; // node.server_port_offset: slot N listens at port + N × 10
  const suffix = randomBytes(3).toString('hex');
  const ADMIN = `admin_node_${suffix}`;
  const AUTH = `auth_node_${suffix}`;
  const FHIR = `fhir_node_${suffix}`;
  const PASSWORD = 'correct horse battery staple';
  let cluster: Cluster;
  let moduleDb: Awaited<ReturnType<typeof createModuleDatabase>>;
  let api: AdminApi;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    cluster = await startCluster();
    moduleDb = await createModuleDatabase('plexus_e2e_design');
    api = cluster.api;
    for (const node of [ADMIN, AUTH, FHIR])
      ports[node] = await freePortBlock(
        [0, STEP, 2 * STEP],
        Object.values(ports).flatMap((base) => [base, base + STEP, base + 2 * STEP]),
      );
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await moduleDb?.drop();
  }, 90_000);

  const up = async (nodeId: string) =>
    (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body as any[];
  const get = async (port: number, path = '/', headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('imports the three nodes from one file', async () => {
    const jdbc = moduleDb.url.replace(/^postgres:/, 'jdbc:postgresql:');
    const persistence = (readOnly: boolean) => [
      'module.persistence.type                              = persistence',
      'module.persistence.config.db.driver                  = POSTGRES_9_4',
      `module.persistence.config.db.url                     = ${jdbc}`,
      'module.persistence.config.db.connectionpool.maxtotal = 5',
      'module.persistence.config.db.connectionpool.maxidle  = 2',
      `module.persistence.config.read_only_mode.enabled     = ${readOnly}`,
    ];
    const file = [
      "# The admin console: reads fhir_node's batch jobs through a read-only duplicate",
      `node.id                                              = ${ADMIN}`,
      `node.server_port_offset                              = ${STEP}`,
      'module.admin_web.type                                = http-endpoint',
      `module.admin_web.config.port                         = ${ports[ADMIN]}`,
      'module.admin_web.config.message                      = admin console',
      ...persistence(true),
      '',
      '# Authentication: sessions shared by every process',
      `node.id                                              = ${AUTH}`,
      `node.server_port_offset                              = ${STEP}`,
      'module.local_security.type                           = local-security',
      `module.local_security.config.users                   = alice:${await hashPassword(PASSWORD)}`,
      'module.local_security.config.sessions.timeout.mins   = 30',
      'module.auth_web.type                                 = http-endpoint',
      'module.auth_web.requires.SECURITY_IN_UP              = local_security',
      `module.auth_web.config.port                          = ${ports[AUTH]}`,
      '',
      '# FHIR: the writable persistence module, and a local index on one process at a time',
      `node.id                                              = ${FHIR}`,
      `node.server_port_offset                              = ${STEP}`,
      'module.fhir_endpoint.type                            = http-endpoint',
      `module.fhir_endpoint.config.port                     = ${ports[FHIR]}`,
      'module.fhir_endpoint.config.message                  = fhir',
      ...persistence(false),
      'module.search_index.type                             = local-index',
      'module.search_index.activation                       = single',
      `module.search_index.config.index.path                = ${join(cluster.dir, 'index')}`,
      '',
    ].join('\n');
    const imported = await api.post('/module-config/properties', { properties: file });
    expect(imported.status).toBe(200);
    const created = (nodeId: string, modules: number) =>
      expect.objectContaining({
        nodeId,
        version: 1 + modules,
        changed: true,
        created: true,
        events: ['NodeCreated', ...Array(modules).fill('ModuleAdded')],
      });
    expect(imported.body.nodes).toEqual([created(ADMIN, 2), created(AUTH, 2), created(FHIR, 3)]);
    for (const node of [ADMIN, AUTH, FHIR])
      expect((await api.get(`/nodes/${node}`)).status).toBe(200);
    // a second writable duplicate of fhir_node's database would be refused
    const second = await api.put(`/nodes/${ADMIN}/modules/persistence`, {
      type: 'persistence',
      config: { 'db.driver': 'POSTGRES_9_4', 'db.url': jdbc, 'read_only_mode.enabled': 'false' },
    });
    expect(second.status).toBe(409);
    expect(second.body.message).toContain('read_only_mode.enabled=true');
  });

  it('scales each node independently: admin 1, auth 2, fhir 2 processes, one supervisor per node', async () => {
    const counts: Record<string, number> = { [ADMIN]: 1, [AUTH]: 2, [FHIR]: 2 };
    for (const [node, n] of Object.entries(counts)) {
      const policy = await api.put(`/nodes/${node}/scaling`, { min: n, max: n, target: 50 });
      expect(policy.status).toBe(200);
      expect(policy.body.desired).toBe(n);
      cluster.spawn('supervisor', ['--node-id', node], { LOG_LEVEL: 'info' });
    }
    for (const [node, n] of Object.entries(counts))
      await waitFor(
        `${n} process(es) of ${node} up`,
        async () => (await up(node)).length === n,
        60_000,
        250,
      );
    // each process serves on its slot's port offset (a process is up from its join, before it
    // has applied its node document and opened its ports: wait until it answers)
    const served = (port: number, path = '/') =>
      waitFor(`:${port}${path} answering`, () => get(port, path), 20_000, 200);
    expect((await served(ports[ADMIN])).body.message).toBe('admin console');
    for (const slot of [0, 1]) {
      expect((await served(ports[FHIR] + slot * STEP)).body).toMatchObject({ nodeId: FHIR });
      expect((await served(ports[AUTH] + slot * STEP, '/endpoint-health')).status).toBe(200);
    }
  }, 120_000);

  it('fhir_node runs its local index on exactly one process, the other stands by', async () => {
    // A process heartbeats from the moment it joins, before it has applied its node document, so
    // wait until both report the module before judging which one runs it.
    const rollout = await waitFor(
      'the index active on one fhir process, both reporting it',
      async () => {
        const r = (await api.get(`/nodes/${FHIR}/rollout`)).body;
        const reported = r.processes?.filter((p: any) => p.modules?.search_index).length;
        return r.active?.search_index && reported === 2 && r;
      },
      20_000,
      200,
    );
    const states = rollout.processes.map((p: any) => p.modules.search_index.state).sort();
    expect(states).toEqual(['running', 'standby']);
    expect(rollout.processes.map((p: any) => p.processId)).toContain(rollout.active.search_index);
  });

  it('a login on one auth_node process is valid on the other', async () => {
    const login = await fetch(`http://127.0.0.1:${ports[AUTH]}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as any;
    expect((await get(ports[AUTH] + STEP)).status).toBe(401);
    const other = await get(ports[AUTH] + STEP, '/', { authorization: `Bearer ${token}` });
    expect(other.status).toBe(200);
    expect(other.body.nodeId).toBe(AUTH);
  });

  it('a job run by fhir_node is listed by admin_node, which refuses to start one', async () => {
    const submitted = await api.post(`/nodes/${FHIR}/modules/persistence/batch-jobs`, {
      jobType: 'sample-rows',
      params: {},
    });
    expect(submitted.status).toBe(202);
    const { jobId } = submitted.body;
    await waitFor(
      'the job to succeed',
      async () => (await api.get(`/batch-jobs/${jobId}`)).body.status === 'succeeded',
      30_000,
      200,
    );
    const listed = await api.get(`/batch-jobs?nodeId=${ADMIN}`);
    expect(listed.body.jobs.map((j: any) => j.jobId)).toEqual([jobId]);
    const refused = await api.post(`/nodes/${ADMIN}/modules/persistence/batch-jobs`, {
      jobType: 'sample-rows',
      params: {},
    });
    expect(refused.status).toBe(409);
  });

  it('scaling fhir_node to 3 starts one more fhir process and leaves the other nodes alone', async () => {
    const pidsBefore = {
      admin: (await up(ADMIN)).map((p) => p.pid),
      auth: (await up(AUTH)).map((p) => p.pid).sort(),
    };
    expect((await api.put(`/nodes/${FHIR}/scaling`, { min: 3, max: 3, target: 50 })).status).toBe(
      200,
    );
    await waitFor('3 fhir processes up', async () => (await up(FHIR)).length === 3, 60_000, 250);
    // A process is up once it joined, which it does before it has started its modules.
    await waitFor(
      'the third fhir process to serve',
      async () => (await get(ports[FHIR] + 2 * STEP).catch(() => null))?.body?.nodeId === FHIR,
      30_000,
      250,
    );
    expect((await up(ADMIN)).map((p) => p.pid)).toEqual(pidsBefore.admin);
    expect((await up(AUTH)).map((p) => p.pid).sort()).toEqual(pidsBefore.auth);
    const states = (await up(FHIR)).map((p) => p.modules?.search_index?.state);
    expect(states.filter((s) => s === 'running')).toHaveLength(1);
  }, 90_000);
});
