/**
 * bench:takeover — how long an `activation: single` module goes unserved when its active process
 * is killed (-9): from the kill to the first answer of the process that took over.
 *
 * Starts the built control plane on a fresh database (shared Postgres and NATS) and PROCESSES
 * built workers of one node running one `single` http-endpoint (port offsets 0, 100, ...). Each
 * run finds the active process by probing every port (GET /, a connection per request, every
 * POLL_MS), kills it with SIGKILL, takes performance.now() right before the signal, and polls
 * until another process answers; the takeover is that answer's arrival minus the kill. Then it
 * starts a replacement process and waits until it has joined and stands by, so every run starts
 * from a full fleet. Rounds in which two processes answered are counted (`overlapRounds`, which
 * must be 0). The lease time is the leases bucket's max age (3 s): expect about
 * lease time − (time since the last renewal) + one standby poll + the module's start.
 *
 * measureTakeovers() is exported for other benchmarks (bench:batch) with their own fleet.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { LEASES_BUCKET, moduleLeaseKey } from '@plexus/bus';
import { createTestDatabase } from '../test/support/databases';
import { freePort, freePortBlock, waitFor } from '../test/support/ports';
import {
  SpawnedProcess,
  spawnControlPlane,
  spawnWorker,
  stopProcess,
} from '../test/support/processes';
import { probe } from '../test/support/serving-watch';
import {
  BENCH_NATS,
  BENCH_NATS_URL,
  BENCH_TOKEN,
  dropBenchDatabase,
  jsonClient,
  percentile,
  progress,
  round,
} from './support';
import { sleep } from '@plexus/common';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 3);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 25);

/** A fleet of processes of which one is active for a `single` module. */
export interface TakeoverFleet {
  /** The processes active right now (normally one; none during a takeover). */
  active(): Promise<string[]>;
  /** Kills (-9) a process; resolves once it is gone. */
  kill(processId: string): Promise<void>;
  /** Replaces the killed process; resolves once the replacement stands by. */
  respawn(): Promise<void>;
}

export interface TakeoverFigures {
  takeoverP50Ms: number;
  takeoverP99Ms: number;
  takeoverMaxMs: number;
  runs: number;
  /** Polls in which more than one process was active (must be 0). */
  overlapRounds: number;
}

/**
 * Kills the active process `runs` times and times each takeover: from right before the kill to
 * the first poll (every pollMs) that finds another process active.
 */
export async function measureTakeovers(
  fleet: TakeoverFleet,
  runs: number,
  pollMs = POLL_MS,
): Promise<TakeoverFigures & { samplesMs: number[] }> {
  const samples: number[] = [];
  let overlapRounds = 0;
  const poll = async () => {
    const active = await fleet.active();
    if (active.length > 1) overlapRounds++;
    return active;
  };
  for (let run = 1; run <= runs; run++) {
    let before: string[] = [];
    const settled = performance.now() + 30_000;
    while ((before = await poll()).length !== 1) {
      if (performance.now() > settled) throw new Error('no single active process to kill');
      await sleep(pollMs);
    }
    const victim = before[0];
    const killedAt = performance.now();
    const killed = fleet.kill(victim);
    for (;;) {
      const sent = performance.now();
      const active = await poll();
      if (active.some((id) => id !== victim)) {
        samples.push(performance.now() - killedAt);
        break;
      }
      if (sent - killedAt > 60_000) throw new Error('nobody took over within 60 s');
      const wait = pollMs - (performance.now() - sent);
      if (wait > 0) await sleep(wait);
    }
    await killed;
    progress(`run ${run}/${runs}: takeover ${round(samples[samples.length - 1], 1)} ms`);
    await fleet.respawn();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    takeoverP50Ms: round(percentile(sorted, 50), 1),
    takeoverP99Ms: round(percentile(sorted, 99), 1),
    takeoverMaxMs: round(sorted[sorted.length - 1], 1),
    runs: samples.length,
    overlapRounds,
    samplesMs: samples.map((s) => round(s, 1)),
  };
}

/** Runs a fleet of PROCESSES workers of a node with a `single` http-endpoint and measures `runs` takeovers. */
export async function takeoverBench(runs = RUNS) {
  const db = await createTestDatabase('plexus_bench_takeover');
  const cpPort = await freePort();
  const nodeId = `takeover_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'plexus-takeover-'));
  const offsets = Array.from({ length: PROCESSES }, (_, i) => i * 100);
  const base = await freePortBlock(offsets, [cpPort]);
  progress(
    `starting the control plane on :${cpPort} with database ${db.name}, NATS ${BENCH_NATS_URL}`,
  );
  const cp = await spawnControlPlane({
    DATABASE_URL: db.url,
    NATS_URL: BENCH_NATS_URL,
    PORT: cpPort,
    PLEXUS_ADMIN_TOKEN: BENCH_TOKEN,
  });
  const request = jsonClient(cp.url, { authorization: `Bearer ${BENCH_TOKEN}` });
  const upPids = async () =>
    (JSON.parse((await request('GET', `/processes?nodeId=${nodeId}&status=up`)).body) as any[])
      .filter((p) => p.modules?.web?.state === 'running' || p.modules?.web?.state === 'standby')
      .map((p) => p.pid as number);
  writeFileSync(
    join(dir, 'node.properties'),
    `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.activation=single\nmodule.web.config.port=${base}\n`,
  );
  const workers = new Map<number, SpawnedProcess>();
  const all: SpawnedProcess[] = [];
  const start = async (offset: number) => {
    const w = spawnWorker({
      nodeId,
      propertiesFile: join(dir, 'node.properties'),
      portOffset: offset,
      natsUrl: BENCH_NATS_URL,
      logLevel: 'warn',
    });
    workers.set(offset, w);
    all.push(w);
    await waitFor(
      'the process up',
      async () => (await upPids()).includes(w.child.pid!),
      60_000,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; worker output:\n${w.output()}`);
    });
  };
  let killedOffset = 0;
  try {
    progress(
      `starting ${PROCESSES} workers of ${nodeId} (single http-endpoint on ${base} + offsets)`,
    );
    for (const offset of offsets) await start(offset);
    const ports = offsets.map((o) => base + o);
    /** Which process answered on each offset at the last poll (kill needs no extra probe). */
    const servingAs = new Map<number, string>();
    const fleet: TakeoverFleet = {
      async active() {
        const answers = await Promise.all(ports.map((p) => probe(p, 1000)));
        servingAs.clear();
        answers.forEach((a, i) => a && servingAs.set(offsets[i], a));
        return answers.filter((a): a is string => a !== null);
      },
      async kill(processId) {
        const offset = [...servingAs].find(([, id]) => id === processId)?.[0];
        if (offset === undefined) throw new Error(`no worker serves as ${processId}`);
        killedOffset = offset;
        const w = workers.get(offset)!;
        w.child.kill('SIGKILL');
        await w.exited;
      },
      respawn: () => start(killedOffset),
    };
    const figures = await measureTakeovers(fleet, runs);
    progress(`samples (ms): ${figures.samplesMs.join(', ')}`);
    const { samplesMs: _samples, ...result } = figures;
    return { ...result, processes: PROCESSES, pollMs: POLL_MS };
  } finally {
    await Promise.all(all.map((w) => stopProcess(w, 5000)));
    await stopProcess(cp);
    const nc = await connect({ ...BENCH_NATS });
    const leases = await nc.jetstream().views.kv(LEASES_BUCKET);
    await leases.purge(moduleLeaseKey(nodeId, 'web')).catch(() => undefined);
    await nc.close();
    await dropBenchDatabase(db);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module)
  takeoverBench()
    .then((result) => console.log(JSON.stringify(result)))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
