import { randomBytes } from 'node:crypto';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { createModuleDatabase } from './support/module-database';
import { freePortBlock } from './support/ports';
import { SpawnedProcess } from './support/processes';

/**
 * Runtime status, as Smile CDR has it, on the built apps: a control plane and two workers of a
 * node with an http-endpoint on both and a persistence module on one (activation: single). The
 * persistence module's database is dropped for real: its health goes DOWN, heartbeats carry it,
 * GET /nodes/:id/runtime-status answers 503 naming it while the other process answers 200, and
 * the management port says the same. A frozen (SIGSTOP) process is a 503 within two seconds.
 */
describe('runtime status', () => {
  let cluster: Cluster;
  let api: AdminApi;
  /** Runtime-status calls: every answer as it came (503 is what is tested, not retried). */
  let status: AdminApi;
  let moduleDb: Awaited<ReturnType<typeof createModuleDatabase>>;
  let managementPort: number;
  const nodeId = `rs-${randomBytes(4).toString('hex')}`;
  /** Process ID and management port of each worker, by the worker. */
  const procs = new Map<SpawnedProcess, { processId: string; mgmt: number }>();
  let active: SpawnedProcess; // runs the persistence module
  let standby: SpawnedProcess;

  const processIdOf = async (w: SpawnedProcess) =>
    (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body.find(
      (p: any) => p.pid === w.child.pid,
    )?.processId as string | undefined;
  const management = (w: SpawnedProcess, path: string) =>
    fetch(`http://127.0.0.1:${procs.get(w)!.mgmt}${path}`);

  beforeAll(async () => {
    moduleDb = await createModuleDatabase('plexus_rs');
    // lost only after the test: a frozen process stays "up", so it is asked and must not answer
    cluster = await startCluster({ controlPlane: { lostAfterMs: 60_000 } });
    api = cluster.api;
    status = new AdminApi(cluster.controlPlane.url);
    const webPort = await freePortBlock([0, 100]);
    managementPort = await freePortBlock([0, 100]);
    const propertiesFile = cluster.writeFile('node.properties', [
      `node.id=${nodeId}`,
      'module.web.type=http-endpoint',
      `module.web.config.port=${webPort}`,
      'module.db.type=persistence',
      'module.db.activation=single',
      'module.db.config.db.driver=POSTGRES_9_4',
      `module.db.config.db.url=${moduleDb.url.replace(/^postgres:/, 'jdbc:postgresql:')}`,
      'module.db.config.db.connectionpool.maxtotal=3',
      'module.db.config.db.connectionpool.maxidle=1',
    ]);
    for (const portOffset of [0, 100]) {
      const w = await cluster.startWorker({
        nodeId,
        propertiesFile,
        portOffset,
        args: ['--management-port', String(managementPort)],
        env: { HEALTH_CHECK_MS: '300' },
      });
      procs.set(w, { processId: (await processIdOf(w))!, mgmt: managementPort + portOffset });
    }
    // which process runs the persistence module
    const running = await cluster.until(
      'the persistence module running on one process',
      async () => {
        const rows = (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body;
        const row = rows.find((p: any) => p.modules.db?.state === 'running');
        return row?.pid as number | undefined;
      },
    );
    const workers = [...procs.keys()];
    active = workers.find((w) => w.child.pid === running)!;
    standby = workers.find((w) => w !== active)!;
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    await moduleDb?.drop();
  }, 60_000);

  it('answers 200 with every module UP, in heartbeats, over the API and on the management port', async () => {
    const { processId } = procs.get(active)!;
    // heartbeats carry each module's health: the process view shows it
    await cluster.until('health in the process view', async () => {
      const row = (await api.get(`/processes?nodeId=${nodeId}`)).body.find(
        (p: any) => p.processId === processId,
      );
      return row?.health.db?.status === 'UP' && row.health.web?.status === 'UP';
    });

    const node = await status.get(`/nodes/${nodeId}/runtime-status`);
    expect(node.status).toBe(200);
    expect(node.body).toMatchObject({ nodeId, healthy: true, failing: [] });
    expect(node.body.processes.map((p: any) => p.processId).sort()).toEqual(
      [...procs.values()].map((p) => p.processId).sort(),
    );

    const one = await status.get(`/processes/${processId}/runtime-status`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      processId,
      nodeId,
      healthy: true,
      modules: {
        web: { state: 'running', health: { status: 'UP' } },
        db: { state: 'running', health: { status: 'UP', details: { readOnly: false } } },
      },
    });
    expect(Date.now() - Date.parse(one.body.checkedAt)).toBeLessThan(10_000);
    // the standby process does not run the module: it has no health for it, and is healthy
    const other = await status.get(`/processes/${procs.get(standby)!.processId}/runtime-status`);
    expect(other.status).toBe(200);
    expect(other.body.modules.db).toEqual({ state: 'standby', version: expect.any(Number) });

    const health = await management(active, '/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'UP',
      processId,
      modules: { db: { health: { status: 'UP' } }, web: { health: { status: 'UP' } } },
    });
    const metrics = await management(active, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{.*\} \d/m);
    expect(text).toMatch(/^plexus_config_version_applied\{.*\} [1-9]\d*$/m);
    expect(text).toMatch(/^plexus_module_health\{[^}]*module="db",status="UP"[^}]*\} 1$/m);
    expect(text).toMatch(/^plexus_module_health\{[^}]*module="db",status="DOWN"[^}]*\} 0$/m);
    expect(text).toMatch(/^plexus_config_changes_applied_total\{.*\} [1-9]\d*$/m);
    expect(text).toMatch(/^plexus_heartbeats_sent_total\{.*\} [1-9]\d*$/m);
    // the second process serves its management port at the offset
    expect((await management(standby, '/health')).status).toBe(200);
  });

  it('names the module whose database is gone: 503 for its process and node, 200 for the other', async () => {
    const { processId } = procs.get(active)!;
    await moduleDb.drop(); // for real: connections terminated, the database no longer exists

    const node = await cluster.until('the node runtime status 503', async () => {
      const res = await status.get(`/nodes/${nodeId}/runtime-status`);
      return res.status === 503 && res;
    });
    expect(node.body.healthy).toBe(false);
    expect(node.body.failing).toEqual([
      { processId, moduleId: 'db', reason: expect.stringMatching(/^DOWN: database unreachable/) },
    ]);
    expect(node.body.message).toMatch(
      new RegExp(`^modules not healthy: ${processId}/db \\(DOWN: database unreachable: .+\\)$`),
    );

    const sick = await status.get(`/processes/${processId}/runtime-status`);
    expect(sick.status).toBe(503);
    expect(sick.body.message).toMatch(/^modules not healthy: db \(DOWN: database unreachable/);
    expect(sick.body.modules.web.health.status).toBe('UP');
    const fine = await status.get(`/processes/${procs.get(standby)!.processId}/runtime-status`);
    expect(fine.status).toBe(200);

    // the change travelled in heartbeats too
    const row = (await api.get(`/processes?nodeId=${nodeId}`)).body.find(
      (p: any) => p.processId === processId,
    );
    expect(row.health.db).toMatchObject({ status: 'DOWN' });

    const health = await management(active, '/health');
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: 'DOWN',
      message: expect.stringMatching(/^modules not healthy: db \(DOWN: database unreachable/),
    });
    const text = await (await management(active, '/metrics')).text();
    expect(text).toMatch(/^plexus_module_health\{[^}]*module="db",status="DOWN"[^}]*\} 1$/m);
    expect((await management(standby, '/health')).status).toBe(200);
  });

  it('answers 503 within two seconds for a process that does not answer (SIGSTOP)', async () => {
    const { processId } = procs.get(standby)!;
    standby.child.kill('SIGSTOP');
    try {
      let started = Date.now();
      const one = await status.get(`/processes/${processId}/runtime-status`);
      expect(Date.now() - started).toBeLessThan(2500); // 1.5 s bound, plus the call itself
      expect(one.status).toBe(503);
      expect(one.body.message).toBe(
        `process ${processId} did not answer within 1500 ms; it may be lost`,
      );

      started = Date.now();
      const node = await status.get(`/nodes/${nodeId}/runtime-status`);
      expect(Date.now() - started).toBeLessThan(2500);
      expect(node.status).toBe(503);
      expect(node.body.failing).toContainEqual({
        processId,
        reason: 'did not answer within 1500 ms; it may be lost',
      });
      expect(node.body.message).toContain(`${processId} (did not answer within 1500 ms`);
    } finally {
      standby.child.kill('SIGCONT');
    }
  });

  it('answers 404 for an unknown process or node and 400 for a malformed ID', async () => {
    const process404 = await status.get('/processes/p-0000000000000000/runtime-status');
    expect(process404.status).toBe(404);
    expect(process404.body.message).toBe('process "p-0000000000000000" does not exist');
    const node404 = await status.get('/nodes/no_such_node/runtime-status');
    expect(node404.status).toBe(404);
    expect(node404.body.message).toBe('node "no_such_node" does not exist');
    const bad = await status.get(`/processes/${encodeURIComponent('p x')}/runtime-status`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^processId must be 1-64 of/);
  });
});
