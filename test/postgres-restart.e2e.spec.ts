import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { Client } from 'pg';
import { sleep } from '@plexus/common';
import { AdminApi, TEST_ADMIN_TOKEN } from './support/control-plane';
import { auditEventStream } from './support/event-stream';
import { OwnPostgresServer } from './support/postgres-server';
import { freePort, freePortBlock, waitFor } from './support/ports';
import { SpawnedProcess, spawnControlPlane, spawnWorker, stopProcess } from './support/processes';
import { servedMessage } from './support/serving-watch';

/**
 * A built control plane on a Postgres this test owns (and the suite's NATS), writers running,
 * and Postgres restarted under them (`pg_ctl stop -m fast`, down a while, start; then `pg_ctl
 * restart -m fast`). While it is down every write answers 503 at once (no hang until the
 * client gives up); writes succeed again soon after it accepts connections; the relay lease
 * comes back and a change reaches the worker; and every acknowledged write is in the event
 * table and on the NATS events stream, once.
 */
const CLIENT_TIMEOUT_MS = 10_000;
const WRITERS = 2;
/** How long Postgres stays down in the stop/start case: the outage, not a wait for anything. */
const OUTAGE_MS = 3000;

interface Answer {
  correlationId: string;
  sentAt: number;
  answeredAt: number;
  /** 0: no answer (connection error or the client's timeout). */
  status: number;
}

/**
 * When Postgres, after being found down, accepts a connection (and runs a statement) again:
 * polled every 10 ms. Started before a restart, it waits for the server to go down first.
 */
async function acceptingAgainAt(url: string, wentDown = false): Promise<number> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const c = new Client({ connectionString: url, connectionTimeoutMillis: 500 });
    c.on('error', () => undefined); // the server going away under an idle client
    try {
      await c.connect();
      await c.query({ text: 'SELECT 1', query_timeout: 500 } as { text: string });
      const at = performance.now();
      if (wentDown) return at;
    } catch {
      wentDown = true;
    } finally {
      // not awaited: end() on a connection the server dropped may never settle
      void c.end().catch(() => undefined);
    }
    await sleep(10);
  }
  throw new Error('Postgres did not go down and accept connections again within 60 s');
}

describe('a Postgres restart under writes', () => {
  let pg: OwnPostgresServer;
  let cp: SpawnedProcess & { url: string };
  let worker: SpawnedProcess;
  let api: AdminApi;
  let nc: NatsConnection;
  let dir: string;
  let webPort: number;
  const run = randomBytes(4).toString('hex');
  const nodeId = `pgr-${run}`;
  const startedAt = new Date(Date.now() - 1000);
  const answers: Answer[] = [];
  let running = false;
  let writers: Promise<void>[] = [];

  beforeAll(async () => {
    pg = await OwnPostgresServer.start();
    cp = await spawnControlPlane({
      DATABASE_URL: pg.url('plexus'),
      PORT: await freePort(),
      PLEXUS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
    api = new AdminApi(cp.url, TEST_ADMIN_TOKEN);
    nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
    dir = mkdtempSync(join(tmpdir(), 'plexus-pgr-'));
    webPort = await freePortBlock([0]);
    const file = join(dir, 'node.properties');
    writeFileSync(
      file,
      `node.id=${nodeId}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${webPort}\nmodule.web.config.message=first\n`,
    );
    worker = spawnWorker({ nodeId, propertiesFile: file, logLevel: 'warn' });
    await waitFor(
      'the worker serving',
      async () => (await servedMessage(webPort)) === 'first',
      60_000,
    );
  }, 120_000);

  afterAll(async () => {
    running = false;
    await Promise.all(writers);
    await nc?.close();
    if (worker) await stopProcess(worker, 5000);
    if (cp) await stopProcess(cp, 5000);
    pg?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** One write with the client's timeout; what came back and when. */
  const write = async (correlationId: string): Promise<Answer> => {
    const sentAt = performance.now();
    let status = 0;
    try {
      const res = await fetch(`${cp.url}/nodes/${nodeId}/modules/web/config`, {
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          'content-type': 'application/json',
          'x-correlation-id': correlationId,
        },
        body: JSON.stringify({ message: correlationId }),
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
      });
      await res.text();
      status = res.status;
    } catch {
      status = 0;
    }
    return { correlationId, sentAt, answeredAt: performance.now(), status };
  };

  let rounds = 0;
  const startWriters = () => {
    running = true;
    const round = ++rounds;
    writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; running; i++) {
        answers.push(await write(`pgr-${run}-r${round}w${w}-${i}`));
        await sleep(20); // the writers' pace, not a wait for anything
      }
    });
  };
  const stopWriters = async () => {
    running = false;
    await Promise.all(writers);
  };
  const acked = () => answers.filter((a) => a.status === 200);

  /** Answers to writes sent between `from` and `to`. */
  const sentBetween = (from: number, to: number) =>
    answers.filter((a) => a.sentAt >= from && a.sentAt < to);

  const firstAckAfter = (at: number) =>
    waitFor(
      'a write acknowledged after the restart',
      async () => answers.find((a) => a.status === 200 && a.sentAt >= at),
      30_000,
    );

  it('answers 503 at once while Postgres is down and writes again soon after it is back (stop -m fast, start)', async () => {
    startWriters();
    await waitFor('writes acknowledged', async () => acked().length >= 10, 30_000);

    await pg.stop('fast');
    const downAt = performance.now();
    await sleep(OUTAGE_MS);
    const starting = performance.now();
    const accepting = acceptingAgainAt(pg.url('plexus'), true);
    await pg.startProcess();
    const acceptedAt = await accepting;
    const firstAck = await firstAckAfter(acceptedAt);
    // The relay lease lapsed while Postgres was down (its renewals failed): a new term starts.
    await waitFor(
      'the relay leading again',
      async () => (await api.get('/health')).body.relay === 'leader',
      30_000,
    );
    const relayBackMs = performance.now() - acceptedAt;
    const outage = sentBetween(downAt, starting);
    const maxLatencyMs = Math.max(...outage.map((a) => a.answeredAt - a.sentAt));
    const recoveryMs = firstAck.answeredAt - acceptedAt;
    process.stderr.write(
      `postgres down ${Math.round(starting - downAt)} ms: ${outage.length} writes answered ` +
        `${[...new Set(outage.map((a) => a.status))].join(',')} (slowest ${Math.round(maxLatencyMs)} ms); ` +
        `first write acknowledged ${Math.round(recoveryMs)} ms after Postgres accepted connections, ` +
        `relay leading again after ${Math.round(relayBackMs)} ms\n`,
    );

    expect(outage.length).toBeGreaterThan(10);
    expect(outage.filter((a) => a.status !== 503)).toEqual([]);
    // "no hang": every answer arrived well within the client's timeout
    expect(maxLatencyMs).toBeLessThan(CLIENT_TIMEOUT_MS / 2);
    await stopWriters();
  }, 120_000);

  it('writes again after `pg_ctl restart -m fast`, the relay leads again and a change reaches the worker', async () => {
    startWriters();
    const before = acked().length;
    await waitFor('writes acknowledged', async () => acked().length >= before + 10, 30_000);
    const restarting = performance.now();
    const accepting = acceptingAgainAt(pg.url('plexus'));
    await pg.restart('fast');
    const acceptedAt = await accepting;
    const firstAck = await firstAckAfter(acceptedAt);
    process.stderr.write(
      `pg_ctl restart -m fast: accepting again after ${Math.round(acceptedAt - restarting)} ms; first write acknowledged ` +
        `${Math.round(firstAck.answeredAt - acceptedAt)} ms after Postgres accepted connections\n`,
    );
    // What the writers got meanwhile: acknowledged, or a 503 (never no answer).
    expect(
      sentBetween(restarting, firstAck.sentAt).filter((a) => a.status !== 200 && a.status !== 503),
    ).toEqual([]);
    await stopWriters();

    // The relay lease came back: a change written now reaches the worker.
    await waitFor(
      'the relay leading again',
      async () => (await api.get('/health')).body.relay === 'leader',
      30_000,
    );
    const last = await api.patch(`/nodes/${nodeId}/modules/web/config`, {
      message: 'after restart',
    });
    expect(last.status).toBe(200);
    await waitFor(
      'the worker serving the change',
      async () => (await servedMessage(webPort)) === 'after restart',
      30_000,
    );

    // Nothing acknowledged is lost: in the event table, and on the events stream, once each.
    const client = new Client({ connectionString: pg.url('plexus') });
    await client.connect();
    try {
      const { rows } = await client.query<{ c: string; n: string }>(
        `SELECT metadata->>'correlationId' AS c, count(*) AS n FROM events
         WHERE metadata->>'correlationId' LIKE $1 GROUP BY 1`,
        [`pgr-${run}-r%`],
      );
      const stored = new Map(rows.map((r) => [r.c, Number(r.n)]));
      const ackedIds = acked().map((a) => a.correlationId);
      expect(ackedIds.filter((id) => stored.get(id) !== 1)).toEqual([]);
    } finally {
      await client.end();
    }
    const audit = await waitFor(
      'every event on the stream',
      async () => {
        const a = await auditEventStream(pg.url('plexus'), nc, startedAt);
        return a.missing === 0 && a;
      },
      30_000,
      500,
    );
    expect(audit).toMatchObject({ missing: 0, duplicates: 0, outOfOrder: 0 });
  }, 120_000);
});
