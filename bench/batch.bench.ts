/**
 * bench:batch — batch-job throughput of a persistence module with one and with three processes of
 * its node, and whether any chunk was done twice.
 *
 * Starts its own NATS, the built control plane on a fresh database (shared Postgres), and a node
 * whose writable persistence module points at another fresh database. With one worker process,
 * then with three, it submits a sample-rows job (BENCH_CHUNKS chunks of BENCH_ROWS_PER_CHUNK rows)
 * through the admin API and waits for it to succeed. chunksPerSec is the job's chunks over the
 * time from its first claim to its last completion (the job row's started_at and finished_at, set
 * by Postgres). Each process runs two chunks at once (the module's runner concurrency with
 * maxtotal 5). duplicateChunks counts chunks whose rows were written more than once (the
 * sample-rows table has no unique key, so a chunk done twice shows). On 2 shared cores the
 * processes, the control plane and Postgres compete for CPU: the figures are this machine's.
 *
 * Then it runs bench:takeover's measurement (BENCH_TAKEOVER_RUNS, default 10): three processes of
 * a node with an `activation: single` http-endpoint; kill -9 the active one, time until another
 * serves (takeoverP99Ms), and count polls where two served (takeoverOverlapRounds, must be 0).
 */
import { randomBytes } from 'node:crypto';
import { openPool, Pool } from '@plexus/batch-jobs';
import { AdminApi } from '../test/support/control-plane';
import { createTestDatabase } from '../test/support/databases';
import { createModuleDatabase } from '../test/support/module-database';
import { OwnNatsServer } from '../test/support/nats-server';
import { freePort, waitFor } from '../test/support/ports';
import {
  SpawnedProcess,
  spawnControlPlane,
  spawnWorker,
  stopProcess,
} from '../test/support/processes';
import { BENCH_TOKEN, progress, round } from './support';
import { takeoverBench } from './takeover.bench';

const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 2000);
const ROWS_PER_CHUNK = Number(process.env.BENCH_ROWS_PER_CHUNK ?? 50);

interface JobTiming {
  jobId: string;
  chunks: number;
  seconds: number;
  chunksPerSec: number;
  duplicateChunks: number;
  processesThatDidChunks: number;
}

async function runJob(api: AdminApi, pool: Pool, nodeId: string): Promise<JobTiming> {
  const submitted = await api.post(`/nodes/${nodeId}/modules/persistence/batch-jobs`, {
    jobType: 'sample-rows',
    params: { rows: CHUNKS * ROWS_PER_CHUNK, chunkSize: ROWS_PER_CHUNK },
  });
  if (submitted.status !== 202)
    throw new Error(`submit answered ${submitted.status}: ${JSON.stringify(submitted.body)}`);
  const jobId: string = submitted.body.jobId;
  await waitFor(
    `job ${jobId} to finish`,
    async () => {
      const res = await api.get(`/batch-jobs/${jobId}`);
      if (res.body.status === 'failed') throw new Error(`job failed: ${res.body.error}`);
      return res.body.status === 'succeeded';
    },
    600_000,
    200,
  );
  const { rows } = await pool.query(
    `SELECT total_chunks, extract(epoch FROM finished_at - started_at)::float8 AS seconds
     FROM plexus_batch_job WHERE job_id = $1`,
    [jobId],
  );
  const dup = await pool.query(
    `SELECT count(*)::int AS n FROM (
       SELECT c.seq FROM plexus_batch_chunk c JOIN plexus_batch_sample_rows r
         ON r.job_id = c.job_id AND r.n >= (c.payload->>'from')::int AND r.n < (c.payload->>'to')::int
       WHERE c.job_id = $1 GROUP BY c.seq, c.payload
       HAVING count(*) > ((c.payload->>'to')::int - (c.payload->>'from')::int)) d`,
    [jobId],
  );
  const doers = await pool.query(
    `SELECT count(DISTINCT done_by)::int AS n FROM plexus_batch_chunk WHERE job_id = $1`,
    [jobId],
  );
  const seconds = Number(rows[0].seconds);
  return {
    jobId,
    chunks: rows[0].total_chunks,
    seconds: round(seconds, 3),
    chunksPerSec: round(rows[0].total_chunks / seconds, 1),
    duplicateChunks: dup.rows[0].n,
    processesThatDidChunks: doers.rows[0].n,
  };
}

async function main() {
  const nodeId = `bench_batch_${randomBytes(3).toString('hex')}`;
  progress('starting NATS, the control plane and the databases');
  const nats = await OwnNatsServer.start();
  const db = await createTestDatabase('plexus_bench');
  const moduleDb = await createModuleDatabase('plexus_bench_mod');
  const pool = openPool({ url: moduleDb.url, maxTotal: 2, maxIdle: 0 });
  const cp = await spawnControlPlane({
    DATABASE_URL: db.url,
    NATS_URL: nats.url,
    PORT: await freePort(),
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
  });
  const api = new AdminApi(cp.url, BENCH_TOKEN);
  const workers: SpawnedProcess[] = [];
  const startWorker = async () => {
    const w = spawnWorker({ nodeId, natsUrl: nats.url, logLevel: 'info' });
    workers.push(w);
    await waitFor(
      `worker ${workers.length} to run`,
      async () => {
        if (w.child.exitCode !== null) throw new Error(`worker exited: ${w.output()}`);
        return w.output().includes('worker running');
      },
      60_000,
      100,
    );
  };
  try {
    await api.put(`/nodes/${nodeId}`, { properties: {} });
    const put = await api.put(`/nodes/${nodeId}/modules/persistence`, {
      type: 'persistence',
      config: {
        'db.driver': 'POSTGRES_9_4',
        'db.url': moduleDb.url.replace(/^postgres:/, 'jdbc:postgresql:'),
        'db.connectionpool.maxtotal': '5',
        'db.connectionpool.maxidle': '2',
      },
    });
    if (put.status !== 201) throw new Error(`module: ${put.status} ${JSON.stringify(put.body)}`);

    await startWorker();
    progress(`one process: a job of ${CHUNKS} chunks of ${ROWS_PER_CHUNK} rows`);
    const one = await runJob(api, pool, nodeId);
    progress(`one process: ${one.chunksPerSec} chunks/s`);

    await startWorker();
    await startWorker();
    progress(`three processes: a job of ${CHUNKS} chunks`);
    const three = await runJob(api, pool, nodeId);
    progress(
      `three processes: ${three.chunksPerSec} chunks/s (${three.processesThatDidChunks} processes did chunks)`,
    );

    const result = {
      chunksPerSec1: one.chunksPerSec,
      chunksPerSec3: three.chunksPerSec,
      duplicateChunks: one.duplicateChunks + three.duplicateChunks,
      chunks: CHUNKS,
      rowsPerChunk: ROWS_PER_CHUNK,
      chunksInFlightPerProcess: 2,
      jobSeconds1: one.seconds,
      jobSeconds3: three.seconds,
      processesThatDidChunks3: three.processesThatDidChunks,
      timing:
        "chunks over the job's first claim to last completion, both taken by Postgres (plexus_batch_job.started_at, finished_at)",
    };
    progress('stopping the workers');
    await Promise.all(workers.splice(0).map((w) => stopProcess(w)));
    // Active/passive: kill -9 the process running a `single` module, time until another serves.
    progress('takeover of a single module (bench:takeover)');
    const takeover = await takeoverBench(Number(process.env.BENCH_TAKEOVER_RUNS ?? 10));
    console.log(
      JSON.stringify({
        ...result,
        takeoverP50Ms: takeover.takeoverP50Ms,
        takeoverP99Ms: takeover.takeoverP99Ms,
        takeoverRuns: takeover.runs,
        takeoverOverlapRounds: takeover.overlapRounds,
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w)));
    await stopProcess(cp);
    await pool.end();
    await moduleDb.drop();
    await db.drop();
    await nats.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
