import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { AdminApi } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePortBlock, waitFor } from './support/ports';
import { SpawnedProcess, stopProcess } from './support/processes';

const PORT_STEP = 50;

/** GET / about `perSec` times a second (one request at a time, keep-alive) until stopped. */
function loadGenerator(port: number, perSec: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let running = true;
  let served = 0;
  const get = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) served++;
          resolve();
        });
      });
      req.on('error', () => resolve());
      req.setTimeout(2000, () => req.destroy());
    });
  const done = (async () => {
    // Bounded: stops by itself after 2 minutes whatever happens to the test.
    const until = Date.now() + 120_000;
    for (let next = Date.now(); running && Date.now() < until;) {
      await get();
      next += 1000 / perSec;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    agent.destroy();
  })();
  return {
    served: () => served,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * Autoscaling end to end with the built apps: a control plane and a supervisor of a node with an
 * http-endpoint. Load on the endpoint -> ScaleRecommended up -> the supervisor starts a process
 * (port offset from the node's server_port_offset) -> ProcessJoined; load stops -> after the
 * scale-down window ScaleRecommended down -> the surplus process leaves gracefully.
 */
describe('autoscaling with the supervisor', () => {
  let cluster: Cluster;
  let api: AdminApi;
  let supervisor: SpawnedProcess;
  let port: number;
  let propertiesFile: string;
  const nodeId = `sc-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    cluster = await startCluster({ controlPlane: { scaleEvaluateMs: 500 } });
    api = cluster.api;
    port = await freePortBlock([0, PORT_STEP, 2 * PORT_STEP]);
    propertiesFile = cluster.writeFile(
      'node.properties',
      `node.id=${nodeId}\nnode.server_port_offset=${PORT_STEP}\n` +
        `module.web.type=http-endpoint\nmodule.web.config.port=${port}\n`,
    );
  }, 60_000);

  afterAll(async () => {
    if (supervisor) await stopProcess(supervisor, 30_000);
    // Whatever a failed run left behind.
    const left = cluster
      ? (await cluster.api.get(`/processes?nodeId=${nodeId}&status=up`)).body
      : [];
    for (const p of Array.isArray(left) ? left : []) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    await cluster?.stop();
  }, 60_000);

  const events = async (type: string) =>
    (await api.get(`/events?nodeId=${nodeId}&type=${type}&limit=100`)).body.events as any[];
  const upProcesses = async () =>
    (await api.get(`/processes?nodeId=${nodeId}&status=up`)).body as any[];

  it('starts a process under load and stops it gracefully once the load is gone', async () => {
    supervisor = cluster.spawn(
      'supervisor',
      ['--node-id', nodeId, '--properties', propertiesFile, '--max', '3'],
      { LOG_LEVEL: 'info' },
    );
    // Before a policy exists the supervisor runs one process, which creates the node.
    const [first] = await waitFor(
      'one process up',
      async () => {
        const up = await upProcesses();
        return up.length === 1 && up;
      },
      30_000,
      200,
    );
    expect(first.portOffset).toBe(0);

    const policy = await api.put(`/nodes/${nodeId}/scaling`, {
      min: 1,
      max: 3,
      target: 15,
      metric: 'requestsPerSec',
      scaleUpStabilization: 0,
      scaleDownStabilization: 3,
    });
    expect(policy.status).toBe(200);
    expect(policy.body.desired).toBe(1);

    // ~25 req/s against 15 per process: 2 processes.
    const load = loadGenerator(port, 25);
    let up: any;
    try {
      up = await waitFor(
        'ScaleRecommended up',
        async () => {
          const recs = await events('ScaleRecommended');
          return recs.find((e) => e.data.to > e.data.from);
        },
        30_000,
        250,
      );
      expect(up.data).toMatchObject({ from: 1, metric: 'requestsPerSec', target: 15 });
      expect(up.data.to).toBeGreaterThanOrEqual(2);
      expect(up.data.currentValue).toBeGreaterThan(15);

      const second = await waitFor(
        'a second process joined',
        async () => {
          const joined = await events('ProcessJoined');
          return joined.find((e) => e.data.processId !== first.processId)?.data;
        },
        30_000,
        250,
      );
      // Slot 1 listens at server_port_offset from the node's properties.
      expect(second.portOffset).toBe(PORT_STEP);
      const served = await waitFor(
        'the second process serving',
        async () => {
          const res = await fetch(`http://127.0.0.1:${port + PORT_STEP}/`);
          return res.status === 200 && ((await res.json()) as any);
        },
        20_000,
        200,
      );
      expect(served.processId).toBe(second.processId);
      // the recommendation is in /metrics too
      const metrics = (await api.get('/metrics')).body as string;
      const desired = new RegExp(`^plexus_desired_processes\\{node="${nodeId}"\\} (\\d+)$`, 'm');
      expect(Number(desired.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    } finally {
      await load.stop();
    }
    expect(load.served()).toBeGreaterThan(0);

    // Load gone: after the 3 s down window the count goes back to 1, the surplus leaves.
    const down = await waitFor(
      'ScaleRecommended down to 1',
      async () => {
        const recs = await events('ScaleRecommended');
        return recs.find((e) => e.data.to === 1 && e.data.from > 1);
      },
      40_000,
      250,
    );
    expect(down.data.currentValue).toBeLessThan(15);
    await waitFor(
      'one process left up',
      async () => (await upProcesses()).length === 1,
      30_000,
      250,
    );
    const [remaining] = await upProcesses();
    expect(remaining.processId).toBe(first.processId); // the highest slot went first
    const leftEvents = await events('ProcessLeft');
    expect(leftEvents.length).toBeGreaterThanOrEqual(1);
    expect(leftEvents.every((e) => e.data.processId !== first.processId)).toBe(true);
    expect(await events('ProcessLost')).toEqual([]);

    // The supervisor's own SIGTERM stops its last worker gracefully and exits 0.
    expect(await stopProcess(supervisor, 30_000)).toBe(0);
    await waitFor('no process up', async () => (await upProcesses()).length === 0, 10_000, 200);
    expect(await events('ProcessLost')).toEqual([]);
    expect(supervisor.output()).toMatch(/"service":"plexus-supervisor".*"msg":"worker started"/);
  }, 180_000);

  it('restarts a worker that dies unexpectedly, in the same slot', async () => {
    supervisor = cluster.spawn(
      'supervisor',
      ['--node-id', nodeId, '--properties', propertiesFile],
      {
        LOG_LEVEL: 'info',
      },
    );
    // The policy (min 1) asks for one process.
    const [first] = await waitFor(
      'one process up',
      async () => {
        const up = await upProcesses();
        return up.length === 1 && up;
      },
      30_000,
      200,
    );
    process.kill(first.pid, 'SIGKILL');
    const replacement = await waitFor(
      'a replacement process up',
      async () => (await upProcesses()).find((p) => p.processId !== first.processId),
      30_000,
      200,
    );
    expect(replacement.portOffset).toBe(0);
    expect(replacement.pid).not.toBe(first.pid);
    expect(supervisor.output()).toMatch(/worker exited unexpectedly; restarting it/);
    expect(await stopProcess(supervisor, 30_000)).toBe(0);
  }, 120_000);
});
