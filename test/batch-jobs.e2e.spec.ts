import { randomBytes } from 'node:crypto';
import { listScheduleFires, openPool, Pool } from '@plexus/batch-jobs';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { createModuleDatabase } from './support/module-database';
import { SpawnedProcess } from './support/processes';

/**
 * Batch jobs of a persistence module shared by the processes of its node, under the built control
 * plane, as OS processes against the real Postgres and NATS. The steps build on each other.
 */
const suffix = randomBytes(3).toString('hex');
const FHIR = `fhir_node_${suffix}`;
const ADMIN = `admin_node_${suffix}`;

describe('batch jobs of a persistence module shared by the processes of a node', () => {
  let moduleDb: Awaited<ReturnType<typeof createModuleDatabase>>;
  let pool: Pool;
  // Its own NATS: on the shared one, another suite's control plane could answer our seed request.
  let cluster: Cluster;
  let api: AdminApi;
  let propertiesFile: string;
  const fhirWorkers: SpawnedProcess[] = [];
  const adminWorkers: SpawnedProcess[] = [];
  let jobId: string;

  const until = <T>(what: string, probe: () => Promise<T | undefined | null | false>) =>
    cluster.until(what, probe);
  const startWorker = async (nodeId: string, list: SpawnedProcess[]) => {
    const worker = await cluster.startWorker({
      nodeId,
      propertiesFile: nodeId === FHIR ? propertiesFile : undefined,
      until: 'running',
    });
    list.push(worker);
    return worker;
  };
  const persistenceFor = (readOnly: boolean) => ({
    type: 'persistence',
    config: {
      'db.driver': 'POSTGRES_9_4',
      'db.url': moduleDb.url.replace(/^postgres:/, 'jdbc:postgresql:'),
      'db.connectionpool.maxtotal': '5',
      'db.connectionpool.maxidle': '2',
      'read_only_mode.enabled': String(readOnly),
    },
  });

  beforeAll(async () => {
    moduleDb = await createModuleDatabase('plexus_e2e_bj');
    pool = openPool({ url: moduleDb.url, maxTotal: 2, maxIdle: 0 });
    cluster = await startCluster();
    api = cluster.api;
    propertiesFile = cluster.writeFile(`${FHIR}.properties`, [
      `node.id=${FHIR}`,
      'module.persistence.type=persistence',
      'module.persistence.config.db.driver=POSTGRES_9_4',
      `module.persistence.config.db.url=${persistenceFor(false).config['db.url']}`,
      'module.persistence.config.db.connectionpool.maxidle=2',
      'module.persistence.config.db.connectionpool.maxtotal=5',
      'module.persistence.config.read_only_mode.enabled=false',
      '',
    ]);
  });

  afterAll(async () => {
    await cluster?.stop();
    await pool?.end();
    await moduleDb?.drop();
  });

  it('runs a job across two processes of fhir_node with no chunk done twice', async () => {
    // given two processes of a node whose writable persistence module points at a fresh database
    await startWorker(FHIR, fhirWorkers);
    await startWorker(FHIR, fhirWorkers);
    // when a job of 400 chunks is submitted
    const submitted = await api.post(`/nodes/${FHIR}/modules/persistence/batch-jobs`, {
      jobType: 'sample-rows',
      params: { rows: 40_000, chunkSize: 100 },
    });
    expect(submitted.body).toMatchObject({ status: 'queued', nodeId: FHIR });
    expect(submitted.status).toBe(202);
    jobId = submitted.body.jobId;
    // then it succeeds
    const done = await until('the job to succeed', async () => {
      const res = await api.get(`/batch-jobs/${jobId}`);
      return res.body.status === 'succeeded' && res.body;
    });
    expect(done.progress).toEqual({
      totalChunks: 400,
      doneChunks: 400,
      failedChunks: 0,
      percent: 100,
    });
    // and every row was written once, both processes did chunks, and each chunk's rows were
    // written by the process recorded as having done it
    const rows = await pool.query(
      `SELECT count(*)::int AS total, count(DISTINCT n)::int AS distinct_n FROM plexus_batch_sample_rows WHERE job_id = $1`,
      [jobId],
    );
    expect(rows.rows[0]).toEqual({ total: 40_000, distinct_n: 40_000 });
    const doers = await pool.query(
      `SELECT done_by, count(*)::int AS chunks FROM plexus_batch_chunk WHERE job_id = $1 GROUP BY done_by`,
      [jobId],
    );
    expect(doers.rows).toHaveLength(2);
    const mismatched = await pool.query(
      `SELECT count(*)::int AS n FROM plexus_batch_sample_rows r JOIN plexus_batch_chunk c
         ON c.job_id = r.job_id AND r.n >= (c.payload->>'from')::int AND r.n < (c.payload->>'to')::int
       WHERE r.job_id = $1 AND r.written_by <> c.done_by`,
      [jobId],
    );
    expect(mismatched.rows[0].n).toBe(0);
  });

  it('a read-only duplicate with the same module ID on admin_node lists that job and refuses to start one', async () => {
    expect((await api.put(`/nodes/${ADMIN}`, { properties: {} })).status).toBe(201);
    expect(
      (await api.put(`/nodes/${ADMIN}/modules/persistence`, persistenceFor(true))).status,
    ).toBe(201);
    await startWorker(ADMIN, adminWorkers);
    const listed = await api.get(`/batch-jobs?nodeId=${ADMIN}&moduleId=persistence`);
    expect(listed.status).toBe(200);
    expect(listed.body.unanswered).toEqual([]);
    expect(listed.body.jobs.map((j: any) => j.jobId)).toEqual([jobId]);
    const refused = await api.post(`/nodes/${ADMIN}/modules/persistence/batch-jobs`, {
      jobType: 'sample-rows',
      params: {},
    });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('read_only_mode');
    // and it reports itself read-only in its heartbeats
    const procs = await until('the admin process to report its module', async () => {
      const res = await api.get(`/processes?nodeId=${ADMIN}&status=up`);
      return res.body[0]?.modules?.persistence?.details && res.body;
    });
    expect(procs[0].modules.persistence.details).toMatchObject({ readOnly: true, runner: null });
  });

  it('refuses a second writable duplicate with 409', async () => {
    const other = `other_node_${suffix}`;
    await api.put(`/nodes/${other}`, { properties: {} });
    const refused = await api.put(`/nodes/${other}/modules/persistence`, persistenceFor(false));
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(`module "persistence" of node "${FHIR}"`);
    expect(refused.body.message).toContain('read_only_mode.enabled=true');
  });

  it('fires a recurring job once per due time with three processes running', async () => {
    // given three processes of fhir_node
    await startWorker(FHIR, fhirWorkers);
    const first = new Date(Date.now() + 1000);
    // when a schedule is due every second
    const saved = await api.put(`/nodes/${FHIR}/modules/persistence/batch-schedules/every-second`, {
      jobType: 'sample-rows',
      params: { rows: 10 },
      everyMs: 1000,
      firstDueAt: first.toISOString(),
    });
    expect(saved.status).toBe(200);
    await until('five due times fired', async () => {
      const fired = await listScheduleFires(pool, 'every-second');
      return fired.length >= 5;
    });
    await pool.query(`UPDATE plexus_batch_schedule SET enabled = false`);
    // then each due time fired once, each with its own job
    const fires = await listScheduleFires(pool, 'every-second');
    expect(fires.length).toBeGreaterThanOrEqual(5);
    const steps = fires.map((f) => (Date.parse(f.dueAt) - first.getTime()) / 1000);
    expect(steps[0]).toBe(0);
    expect(steps.every((k) => Number.isInteger(k))).toBe(true);
    expect(new Set(steps).size).toBe(steps.length);
    const jobs = await pool.query(
      `SELECT job_id FROM plexus_batch_job WHERE schedule_id = 'every-second'`,
    );
    expect(jobs.rows.map((r) => r.job_id).sort()).toEqual(fires.map((f) => f.jobId).sort());
    // and all three processes were up the whole time
    const up = await api.get(`/processes?nodeId=${FHIR}&status=up`);
    expect(up.body).toHaveLength(3);
    // and the scheduled jobs show in the cluster-wide list
    const listed = await api.get(`/batch-jobs?nodeId=${FHIR}`);
    const scheduled = listed.body.jobs.filter((j: any) => j.scheduleId === 'every-second');
    expect(scheduled).toHaveLength(fires.length);
  });
});
