import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { join } from 'node:path';
import { TEST_ADMIN_TOKEN } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePort } from './support/ports';

/** The built CLI (npm run build) as an operator runs it, against a real control plane and worker. */
const CLI = join(__dirname, '..', 'apps', 'cli', 'bin', 'plexus.js');
const nodeId = `cli-${randomBytes(4).toString('hex')}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

describe('the plexus CLI against a running control plane', () => {
  let cluster: Cluster;
  let env: NodeJS.ProcessEnv;
  let webPort: number;
  const blockers: net.Server[] = [];

  /** Runs the CLI to its end (asynchronously: the test keeps serving nothing, the processes do). */
  const plexus = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      const started = Date.now();
      const child = spawn(process.execPath, [CLI, ...args], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
    });

  const nodeVersion = async () => {
    const res = await cluster.api.get(`/nodes/${nodeId}`);
    return res.status === 200 ? (res.body.version as number) : null;
  };

  beforeAll(async () => {
    cluster = await startCluster({ databasePrefix: 'plexus_cli' });
    env = {
      ...process.env,
      XDG_CONFIG_HOME: join(cluster.dir, 'config'),
      PLEXUS_URL: cluster.controlPlane.url,
      PLEXUS_TOKEN: TEST_ADMIN_TOKEN,
    };
    webPort = await freePort();
  }, 60_000);
  afterAll(async () => {
    for (const b of blockers) await new Promise((resolve) => b.close(resolve));
    await cluster?.stop();
  });

  it('apply --dry-run prints the diff and changes nothing', async () => {
    const file = cluster.writeFile(`${nodeId}.yaml`, [
      `nodeId: ${nodeId}`,
      'properties: { server_port_offset: 0 }',
      'modules:',
      '  web:',
      '    type: http-endpoint',
      `    config: { port: ${webPort}, message: first }`,
    ]);
    const run = await plexus('nodes', 'apply', '-f', file, '--dry-run');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('+ module web (http-endpoint)');
    expect(run.stdout).toContain('+   message = "first"');
    expect(await nodeVersion()).toBeNull();
  });

  it('apply -f creates the node, and nodes get -o json shows it', async () => {
    const file = cluster.writeFile(`${nodeId}.properties`, [
      `node.id=${nodeId}`,
      'node.server_port_offset=0',
      'module.web.type=http-endpoint',
      `module.web.config.port=${webPort}`,
      'module.web.config.message=first',
    ]);
    const applied = await plexus('nodes', 'apply', '-f', file);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`node ${nodeId} created`);

    const got = await plexus('nodes', 'get', nodeId, '-o', 'json');
    expect(got.code).toBe(0);
    const doc = JSON.parse(got.stdout);
    expect(doc).toMatchObject({ nodeId, properties: { server_port_offset: '0' } });
    expect(doc.modules).toEqual([
      expect.objectContaining({
        moduleId: 'web',
        config: { port: String(webPort), message: 'first' },
      }),
    ]);
  });

  it('a dry run of a change prints it and leaves the version as it was', async () => {
    const before = await nodeVersion();
    const file = cluster.writeFile(
      `${nodeId}.json`,
      JSON.stringify({
        nodeId,
        properties: { server_port_offset: '0' },
        modules: [
          {
            moduleId: 'web',
            type: 'http-endpoint',
            config: { port: String(webPort), message: 'second' },
          },
        ],
      }),
    );
    const run = await plexus('nodes', 'apply', '-f', file, '--dry-run');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('~ module web\n~   message: "first" -> "second"\n');
    expect(await nodeVersion()).toBe(before);
  });

  it('rollout status exits 0 once the worker runs the latest version', async () => {
    await cluster.startWorker({ nodeId });
    const run = await plexus('rollout', 'status', nodeId, '--timeout', '30');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/converged/);
  });

  it('rollout status exits 1 when a module fails on the worker', async () => {
    // something outside Plexus already listens where the new module wants to
    const taken = await freePort();
    const blocker = net.createServer((socket) => socket.destroy());
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
    const set = await plexus(
      'modules',
      'set',
      nodeId,
      'clash',
      '--type',
      'http-endpoint',
      '-c',
      `port=${taken}`,
      '-c',
      'message=never',
    );
    expect(set.code).toBe(0);
    const run = await plexus('rollout', 'status', nodeId, '--timeout', '30');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/module clash failed: .*EADDRINUSE/);
    await plexus('modules', 'rm', nodeId, 'clash');
  });

  it('rollout status exits 3 with --timeout when no process runs the node', async () => {
    const lonely = `${nodeId}-none`;
    const file = cluster.writeFile('lonely.properties', [`node.id=${lonely}`]);
    expect((await plexus('nodes', 'apply', '-f', file)).code).toBe(0);
    const run = await plexus('rollout', 'status', lonely, '--timeout', '1');
    expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 3 });
    expect(run.stderr).toMatch(/timed out after 1 s: no live process/);
    expect(run.ms).toBeLessThan(5000);
  });

  it('events ls --follow prints a new event within a second of the write', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'events', 'ls', '--follow', '--node', nodeId, '--type', 'ModuleConfigChanged'],
      { env },
    );
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    try {
      await cluster.until('the follow header', async () => stdout.includes('POSITION'), 10_000);
      const res = await cluster.api.patch(`/nodes/${nodeId}/modules/web/config`, {
        message: 'third',
      });
      expect(res.status).toBe(200);
      const wrote = Date.now();
      await cluster.until(
        'the event printed',
        async () => /ModuleConfigChanged/.test(stdout),
        5000,
      );
      expect(Date.now() - wrote).toBeLessThan(1000);
      expect(stdout).toContain(nodeId);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('patch, diff, revert, export, processes and scaling work through the contract', async () => {
    const before = (await nodeVersion())!;
    const patched = await plexus(
      'modules',
      'patch',
      nodeId,
      'web',
      'message=fourth',
      '--reason',
      'cli test',
    );
    expect(patched.code).toBe(0);
    const diff = await plexus('diff', nodeId, '--from', String(before));
    expect(diff.stdout).toContain('~   message: "third" -> "fourth"');
    const reverted = await plexus('revert', nodeId, '--to', String(before), '--reason', 'undo');
    expect(reverted.code).toBe(0);
    expect(
      JSON.parse((await plexus('nodes', 'get', nodeId, '-o', 'json')).stdout).modules[0].config
        .message,
    ).toBe('third');

    const exported = await plexus('export', nodeId);
    expect(exported.stdout).toContain('module.web.config.message=third');
    const procs = JSON.parse(
      (await plexus('processes', 'ls', '--node', nodeId, '-o', 'json')).stdout,
    );
    expect(procs).toEqual([expect.objectContaining({ nodeId, status: 'up' })]);

    const current = (await nodeVersion())!;
    const policy = ['--min', '1', '--max', '2', '--target', '60'];
    const stale = await plexus('scaling', 'set', nodeId, ...policy, '--if-match', `${current - 1}`);
    expect([stale.code, stale.stderr]).toEqual([1, expect.stringMatching(/412 If-Match names/)]);
    expect(
      (await plexus('scaling', 'set', nodeId, ...policy, '--if-match', `${current}`)).code,
    ).toBe(0);
    const scaling = await plexus('scaling', 'get', nodeId, '-o', 'yaml');
    expect(scaling.stdout).toMatch(/max: 2/);
  });

  it('bad usage exits 2 and an unreachable control plane exits 4 quickly', async () => {
    const unknown = await plexus('nodes', 'frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
    const badInt = await plexus('diff', nodeId, '--from', 'x');
    expect(badInt.code).toBe(2);

    const closed = await freePort();
    const run = await plexus('nodes', 'ls', '--url', `http://127.0.0.1:${closed}`);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/cannot reach the control plane/);
    expect(run.ms).toBeLessThan(3000);
  });

  it('contexts: set-context and use-context keep the token out of get-contexts', () => {
    const cfg = { ...env, PLEXUS_URL: '', PLEXUS_TOKEN: '' };
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, ...args], { env: cfg, encoding: 'utf8' });
    expect(
      run(
        'config',
        'set-context',
        'local',
        '--url',
        cluster.controlPlane.url,
        '--token',
        TEST_ADMIN_TOKEN,
      ).status,
    ).toBe(0);
    expect(run('config', 'use-context', 'local').status).toBe(0);
    const listed = run('config', 'get-contexts');
    expect(listed.stdout).toContain('local');
    expect(listed.stdout).not.toContain(TEST_ADMIN_TOKEN);
    const nodes = run('nodes', 'ls', '-o', 'json');
    expect(nodes.status).toBe(0);
    expect(JSON.parse(nodes.stdout).map((n: { nodeId: string }) => n.nodeId)).toContain(nodeId);
  });
});
