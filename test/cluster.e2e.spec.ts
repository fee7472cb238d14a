import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { hostname } from 'node:os';
import { Subscription } from 'nats';
import { AppliedReport, appliedSubject } from '@plexus/bus';
import { AdminApi } from './support/control-plane';
import { committedOpenApi } from './support/openapi-contract';
import { Cluster, startCluster } from './support/cluster-fixture';
import { OwnNatsServer } from './support/nats-server';
import { freePortBlock } from './support/ports';
import { SpawnedProcess } from './support/processes';
import { SseClient } from './support/sse-client';
import { sleep } from '@plexus/common';

/**
 * The built control plane and three worker processes of one node, as OS processes, against the
 * real Postgres and a NATS this file owns (so that it may restart it). The steps build on each
 * other, in the order an operator would go through them.
 */
const OFFSETS = [0, 100, 200];
const nodeId = `e2e-${randomBytes(4).toString('hex')}`;
const WAIT_MS = 30_000;

/** A port P with P + every offset free. */
const portBlock = (taken: number[] = []) => freePortBlock(OFFSETS, taken, 5);

/** GET on 127.0.0.1:port, a fresh connection each time; rejects with the socket error. */
function getJson(port: number, path = '/'): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
  });
}

const refused = (port: number) =>
  getJson(port).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
  );

describe('a node of three worker processes under the built control plane', () => {
  let cluster: Cluster;
  let nats: OwnNatsServer;
  let api: AdminApi;
  let reportsSub: Subscription;
  let propertiesFile: string;
  const reports: AppliedReport[] = [];
  /** The worker of each index (OFFSETS[index] is its port offset). */
  const workers: SpawnedProcess[] = [];
  const blockers: net.Server[] = [];

  let webPort: number;
  /** Process IDs by worker index, as GET / answered them at the start. */
  let processIds: string[] = [];
  let version = 0;

  const until = <T>(
    what: string,
    probe: () => Promise<T | undefined | null | false>,
    ms = WAIT_MS,
  ): Promise<T> => cluster.until(what, probe, ms);

  const startWorker = async (index: number) => {
    workers[index] = await cluster.startWorker({
      nodeId,
      propertiesFile,
      portOffset: OFFSETS[index],
      until: 'spawned',
    });
    return workers[index];
  };

  /** Waits until the given workers all serve `expected` on `port` + their offset. */
  const serving = (indexes: number[], port: number, expected: Record<string, unknown>) =>
    until(`${JSON.stringify(expected)} on port ${port} of workers ${indexes}`, async () => {
      const answers = await Promise.all(indexes.map((i) => getJson(port + OFFSETS[i])));
      const all = answers.every((a) => a.status === 200 && matches(a.body, expected));
      return all && answers.map((a) => a.body);
    });

  const matches = (body: any, expected: Record<string, unknown>) =>
    Object.entries(expected).every(([k, v]) => body?.[k] === v);

  /** Waits for the applied report of `v` from each of the given workers. */
  const appliedBy = (indexes: number[], v: number) =>
    until(`applied reports of version ${v} from workers ${indexes}`, async () => {
      const found = indexes.map((i) =>
        reports.find((r) => r.processId === processIds[i] && r.version === v),
      );
      return found.every((r) => r !== undefined) && (found as AppliedReport[]);
    });

  const processes = async () => {
    const res = await api.get(`/processes?nodeId=${nodeId}`);
    expect(res.status).toBe(200);
    return res.body as any[];
  };

  const expectSameProcesses = (indexes: number[]) => {
    for (const i of indexes) {
      expect(workers[i].child.exitCode).toBeNull();
      expect(workers[i].child.signalCode).toBeNull();
    }
  };

  const patchWeb = async (changes: Record<string, string>) => {
    const res = await api.patch(`/nodes/${nodeId}/modules/web/config`, changes);
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(version + 1);
    version = res.body.version;
    return res;
  };

  beforeAll(async () => {
    cluster = await startCluster({
      databasePrefix: 'plexus_e2e',
      natsClient: { name: 'cluster-e2e-spec', maxReconnectAttempts: -1, reconnectTimeWait: 250 },
    });
    nats = cluster.nats!;
    // Every answer is checked against the committed OpenAPI document.
    api = cluster.api.validateAgainst(committedOpenApi());
    reportsSub = cluster.nc.subscribe(appliedSubject(nodeId, '*'), {
      callback: (_err, msg) => msg && reports.push(msg.json<AppliedReport>()),
    });
    webPort = await portBlock();
    propertiesFile = cluster.writeFile(`${nodeId}.properties`, [
      '# written by test/cluster.e2e.spec.ts',
      `node.id = ${nodeId}`,
      'node.description = three processes on one host',
      '',
      'module.web.type = http-endpoint',
      `module.web.config.port = ${webPort}`,
      'module.web.config.message = hello from the file',
    ]);
  }, 60_000);

  afterAll(async () => {
    for (const b of blockers) b.close();
    reportsSub?.unsubscribe();
    await cluster?.stop();
  }, 60_000);

  it('the first process creates the node from its file; all three serve it on port + offset', async () => {
    expect((await api.get(`/nodes/${nodeId}`)).status).toBe(404);

    await startWorker(0);
    const created = await until('the node created by worker 0', async () => {
      const res = await api.get(`/nodes/${nodeId}`);
      return res.status === 200 && res;
    });
    expect(created.body).toMatchObject({
      nodeId,
      properties: { description: 'three processes on one host' },
      modules: [
        {
          moduleId: 'web',
          type: 'http-endpoint',
          config: { port: String(webPort), message: 'hello from the file' },
          enabled: true,
        },
      ],
    });
    version = created.body.version;

    await startWorker(1);
    await startWorker(2);
    const answers = await serving([0, 1, 2], webPort, {
      nodeId,
      moduleId: 'web',
      message: 'hello from the file',
      configVersion: version,
    });
    processIds = answers.map((a) => a.processId);
    expect(new Set(processIds).size).toBe(3);
    // the later processes used the stored node instead of creating it again
    expect((await api.get(`/nodes/${nodeId}`)).body.version).toBe(version);
  });

  it('a message change is applied in place by every process', async () => {
    const pids = workers.map((w) => w.child.pid);
    await patchWeb({ message: 'second message' });
    const answers = await serving([0, 1, 2], webPort, {
      message: 'second message',
      configVersion: version,
    });
    expect(answers.map((a) => a.processId)).toEqual(processIds);
    expect(workers.map((w) => w.child.pid)).toEqual(pids);
    expectSameProcesses([0, 1, 2]);
    const applied = await appliedBy([0, 1, 2], version);
    expect(applied.map((r) => r.ok)).toEqual([true, true, true]);
  });

  it('the rollout of a change can be watched: GET /watch sends ProcessConfigApplied of every process', async () => {
    const watch = await SseClient.open(
      `${api.baseUrl}/watch?nodeId=${nodeId}&type=ProcessConfigApplied,ProcessConfigFailed`,
      { authorization: `Bearer ${api.token}` },
    );
    try {
      expect(watch.status).toBe(200);
      await patchWeb({ message: 'watched message' });
      const applied = await watch.until(
        () => {
          const events = watch.events().filter((e) => e.data.version === version);
          return new Set(events.map((e) => e.data.processId)).size === 3 && events;
        },
        WAIT_MS,
        `ProcessConfigApplied of version ${version} from every process`,
      );
      expect(applied.map((e) => e.type)).toEqual(Array(3).fill('ProcessConfigApplied'));
      expect(new Set(applied.map((e) => e.data.processId))).toEqual(new Set(processIds));
    } finally {
      watch.close();
    }
    // Back to the message the next steps start from.
    await patchWeb({ message: 'second message' });
    await serving([0, 1, 2], webPort, { message: 'second message', configVersion: version });
  });

  it('a revert is applied in place by every process', async () => {
    const pids = workers.map((w) => w.child.pid);
    const good = version;
    await patchWeb({ message: 'a bad message' });
    await serving([0, 1, 2], webPort, { message: 'a bad message', configVersion: version });
    const res = await api.post(`/nodes/${nodeId}/revert`, {
      toVersion: good,
      reason: 'bad message',
    });
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(version + 1);
    version = res.body.version;
    await serving([0, 1, 2], webPort, { message: 'second message', configVersion: version });
    expect(workers.map((w) => w.child.pid)).toEqual(pids);
    expectSameProcesses([0, 1, 2]);
  });

  it('a port change moves only that listener: new port answers, old port refuses', async () => {
    const oldPort = webPort;
    webPort = await portBlock([oldPort]);
    await patchWeb({ port: String(webPort) });
    const answers = await serving([0, 1, 2], webPort, {
      message: 'second message',
      configVersion: version,
    });
    expect(answers.map((a) => a.processId)).toEqual(processIds);
    for (const offset of OFFSETS) expect(await refused(oldPort + offset)).toBe(true);
    expectSameProcesses([0, 1, 2]);
  });

  it('a module that cannot start fails alone: the other keeps serving and the failure is reported', async () => {
    // something outside Plexus already listens where the new module wants to
    const takenPort = await portBlock([webPort]);
    for (const offset of OFFSETS) {
      const blocker = net.createServer((socket) => socket.destroy());
      blockers.push(blocker);
      await new Promise<void>((resolve) =>
        blocker.listen(takenPort + offset, '127.0.0.1', resolve),
      );
    }
    const added = await api.put(`/nodes/${nodeId}/modules/clash`, {
      type: 'http-endpoint',
      config: { port: String(takenPort), message: 'never served' },
    });
    expect(added.status).toBe(201);
    version = added.body.version;

    const applied = await appliedBy([0, 1, 2], version);
    for (const report of applied) {
      expect(report.ok).toBe(false);
      expect(report.modules.clash.state).toBe('failed');
      expect(report.modules.clash.error).toMatch(/EADDRINUSE/);
      expect(report.modules.web).toEqual({ state: 'running', version });
    }
    await serving([0, 1, 2], webPort, { message: 'second message', configVersion: version });
    // GET /processes merges heartbeats: the failure shows there too
    const listed = await until('the failed module in GET /processes', async () => {
      const up = (await processes()).filter((p) => p.status === 'up');
      const failed = up.filter((p) => p.modules?.clash?.state === 'failed');
      return up.length === 3 && failed.length === 3 && up;
    });
    for (const p of listed) {
      expect(p.modules.clash.error).toMatch(/EADDRINUSE/);
      expect(p.modules.web.state).toBe('running');
    }
    expectSameProcesses([0, 1, 2]);
    // the rollout view says the node has not converged, and each process's failure is an event
    const rollout = (await api.get(`/nodes/${nodeId}/rollout`)).body;
    expect(rollout).toMatchObject({ version, converged: false, lastChange: { convergedAt: null } });
    expect(rollout.processes.map((p: any) => [p.appliedVersion, p.ok])).toEqual([
      [version, false],
      [version, false],
      [version, false],
    ]);
    const failures = await until('three ProcessConfigFailed events', async () => {
      const res = await api.get(`/events?nodeId=${nodeId}&type=ProcessConfigFailed`);
      const mine = res.body.events.filter((e: any) => e.data.version === version);
      return mine.length === 3 && mine;
    });
    expect(failures.map((e: any) => e.data.processId).sort()).toEqual([...processIds].sort());
    expect(failures[0].data.modules.clash).toMatchObject({ state: 'failed' });

    // removing the bad module puts every process back to all-ok
    const removed = await api.delete(`/nodes/${nodeId}/modules/clash`);
    expect(removed.status).toBe(200);
    version = removed.body.version;
    const after = await appliedBy([0, 1, 2], version);
    expect(after.map((r) => [r.ok, Object.keys(r.modules)])).toEqual([
      [true, ['web']],
      [true, ['web']],
      [true, ['web']],
    ]);
    const converged = await until('the rollout converged', async () => {
      const r = (await api.get(`/nodes/${nodeId}/rollout`)).body;
      return r.converged && r.lastChange.convergeMs !== null && r;
    });
    expect(converged.version).toBe(version);
    const { changedAt, convergedAt } = converged.lastChange;
    expect(converged.lastChange).toEqual({
      version,
      changedAt: expect.any(String),
      convergedAt: expect.any(String),
      convergeMs: Date.parse(convergedAt) - Date.parse(changedAt),
    });
    expect(converged.lastChange.convergeMs).toBeGreaterThanOrEqual(0);
    const appliedEvents = await until('three ProcessConfigApplied events', async () => {
      const res = await api.get(`/events?nodeId=${nodeId}&type=ProcessConfigApplied`);
      const mine = res.body.events.filter((e: any) => e.data.version === version);
      return mine.length === 3 && mine;
    });
    expect(appliedEvents.map((e: any) => e.data.processId).sort()).toEqual([...processIds].sort());
    // the convergence is measured in /metrics too
    const metrics = await api.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^plexus_config_convergence_seconds_count [1-9]/m);
    expect(metrics.body).toMatch(
      new RegExp(`^plexus_processes\\{node="${nodeId}",status="up"\\} 3$`, 'm'),
    );
    for (const b of blockers.splice(0)) b.close();
  });

  it('GET /processes lists the three processes up, with host, pid, port offset and applied version', async () => {
    const listed = await until('3 processes up at the current version', async () => {
      const up = (await processes()).filter((p) => p.status === 'up');
      return up.length === 3 && up.every((p) => p.appliedVersion === version) && up;
    });
    listed.sort((a, b) => a.portOffset - b.portOffset);
    expect(listed).toEqual(
      OFFSETS.map((portOffset, i) =>
        expect.objectContaining({
          processId: processIds[i],
          nodeId,
          status: 'up',
          host: hostname(),
          pid: workers[i].child.pid,
          portOffset,
          appliedVersion: version,
          // with what the module itself reports (its port, requests served so far)
          modules: {
            web: {
              state: 'running',
              version,
              details: { port: webPort + portOffset, requests: expect.any(Number) },
            },
          },
          leftAt: null,
        }),
      ),
    );
    for (const p of listed) expect(Date.parse(p.joinedAt)).not.toBeNaN();
  });

  it("each process runs V8's helper threads at the lowest priority, its main thread as started", () => {
    // The nice value of every thread of a process: /proc/PID/task/TID/stat, field 19.
    const niceValues = (pid: number) =>
      readdirSync(`/proc/${pid}/task`).map((tid) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return {
          tid: Number(tid),
          nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]),
        };
      });
    for (const worker of workers.slice(0, 3)) {
      const pid = worker.child.pid!;
      const threads = niceValues(pid);
      expect(threads.find((t) => t.tid === pid)?.nice).toBe(0);
      // V8's platform threads (4) and its delayed-task thread were there at start: all lowered.
      // Threads started later by the main thread (libuv's pool) keep its priority.
      expect(threads.filter((t) => t.nice === 19).length).toBeGreaterThanOrEqual(4);
      expect(threads.every((t) => t.nice === 0 || t.nice === 19)).toBe(true);
    }
  });

  it('SIGTERM: the process exits 0, stops serving and is listed as left', async () => {
    expect(await workers[2].kill('SIGTERM')).toBe(0);
    expect(await refused(webPort + OFFSETS[2])).toBe(true);
    const listed = await until('worker 2 listed as left', async () => {
      const all = await processes();
      const gone = all.find((p) => p.processId === processIds[2]);
      return gone?.status === 'left' && all;
    });
    const gone = listed.find((p) => p.processId === processIds[2]);
    expect(gone).toMatchObject({ status: 'left', pid: workers[2].child.pid, portOffset: 200 });
    expect(Date.parse(gone.leftAt)).not.toBeNaN();
    expect(
      listed
        .filter((p) => p.status === 'up')
        .map((p) => p.processId)
        .sort(),
    ).toEqual([processIds[0], processIds[1]].sort());
    // the others did not notice
    await serving([0, 1], webPort, { message: 'second message', configVersion: version });
    expectSameProcesses([0, 1]);
  });

  it('NATS restarts: processes keep serving, and changes made during and after the outage reach them', async () => {
    await nats.stopProcess();
    // with NATS down the processes keep their config and serve it
    await serving([0, 1], webPort, { message: 'second message', configVersion: version });
    // a write only needs Postgres: it is stored now and published once NATS is back
    await patchWeb({ message: 'written during the outage' });
    // NATS stays down a while after the write (a fixed wait: the outage is what is tested)
    await sleep(300);
    await nats.startProcess();
    await serving([0, 1], webPort, {
      message: 'written during the outage',
      configVersion: version,
    });

    await patchWeb({ message: 'after the restart' });
    const answers = await serving([0, 1], webPort, {
      message: 'after the restart',
      configVersion: version,
    });
    expect(answers.map((a) => a.processId)).toEqual(processIds.slice(0, 2));
    const applied = await appliedBy([0, 1], version);
    expect(applied.map((r) => r.ok)).toEqual([true, true]);
    expectSameProcesses([0, 1]);
  });
});
