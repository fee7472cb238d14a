import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { KV, NatsConnection, Subscription } from 'nats';
import {
  AppliedReport,
  appliedSubject,
  connectNats,
  CONTROL_PLANE_QUEUE,
  DEFAULT_NATS_URL,
  ensureTopology,
  Heartbeat,
  heartbeatSubject,
  MEMBERSHIP_STREAM,
  MembershipAnnouncement,
  membershipSubject,
  nodeDocumentKey,
  openNodesBucket,
  PATTERNS,
  putNodeDocument,
  readNodeDocument,
  SeedNodeReply,
  SeedNodeRequest,
} from '@plexus/bus';
import {
  decide,
  DomainError,
  emptyNode,
  evolveAll,
  ModuleSpec,
  NodeDocument,
  nodeFromProperties,
} from '@plexus/domain';
import { builtInModuleTypes } from '@plexus/module-runtime';
import { OwnNatsServer } from '../../../test/support/nats-server';
import { sleep } from '@plexus/common';

/**
 * The built worker as a process against the real NATS: the test plays the control plane's
 * relay by putting node documents straight into the KV bucket.
 */
const WORKER = join(__dirname, '../../../dist/apps/worker/main.js');
const NATS_URL = process.env.NATS_URL ?? DEFAULT_NATS_URL;
jest.setTimeout(30_000);

/** Node IDs this file used; their documents are purged from the shared bucket afterwards. */
const usedNodeIds: string[] = [];
const randomId = (prefix: string) => {
  const id = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  usedNodeIds.push(id);
  return id;
};

/** Properties files of this run, removed afterwards. */
const filesDir = mkdtempSync(join(tmpdir(), 'plexus-worker-int-'));
afterAll(() => rmSync(filesDir, { recursive: true, force: true }));
const newFile = (name: string) => join(mkdtempSync(join(filesDir, `${name}-`)), 'node.properties');

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePort(offset = 0): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    if (await portIsFree(port + offset)) return port;
  }
}

function getJson(port: number, path = '/'): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
  });
}

const endpoint = (moduleId: string, config: Record<string, string>): ModuleSpec => ({
  moduleId,
  type: 'http-endpoint',
  config,
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
});

const nodeDoc = (nodeId: string, version: number, modules: ModuleSpec[]): NodeDocument => ({
  nodeId,
  version,
  archived: false,
  properties: {},
  modules,
});

/** Collects what one NATS subject (pattern) carries, and waits for a matching message. */
class Inbox<T> {
  readonly messages: T[] = [];
  private readonly sub: Subscription;
  constructor(nc: NatsConnection, subject: string) {
    this.sub = nc.subscribe(subject, {
      callback: (_err, msg) => msg && this.messages.push(msg.json<T>()),
    });
  }
  async waitFor(match: (m: T) => boolean, what: string, ms = 10_000): Promise<T> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const found = this.messages.find(match);
      if (found) return found;
      await sleep(10);
    }
    throw new Error(
      `timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-3))}`,
    );
  }
  close() {
    this.sub.unsubscribe();
  }
}

interface Worker {
  child: ChildProcess;
  logs: any[];
  stderr: () => string;
  exited: Promise<number | null>;
}

function startWorker(args: string[], natsUrl = NATS_URL): Worker {
  const child = spawn(process.execPath, [WORKER, ...args], {
    env: { ...process.env, NATS_URL: natsUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: any[] = [];
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, logs, stderr: () => stderr, exited };
}

async function waitForLog(worker: Worker, match: (line: any) => boolean, what: string) {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const line = worker.logs.find(match);
    if (line) return line;
    await sleep(20);
  }
  throw new Error(
    `timed out waiting for log "${what}"; last lines: ${JSON.stringify(worker.logs.slice(-5))}`,
  );
}

describe('worker process (built, against real NATS)', () => {
  let nc: NatsConnection;
  let kv: KV;
  const workers: Worker[] = [];
  const spawnWorker = (args: string[], natsUrl?: string) => {
    const w = startWorker(args, natsUrl);
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    if (!existsSync(WORKER))
      throw new Error(`${WORKER} is missing: run "npx nest build worker" before the int tests`);
    nc = await connectNats(NATS_URL, 'worker-int-spec');
    await ensureTopology(nc); // what the control plane does at start
    kv = await openNodesBucket(nc);
  });

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    for (const id of usedNodeIds) await kv?.purge(nodeDocumentKey(id)).catch(() => undefined);
    await nc?.drain();
  });

  it('applies config changes hot, reports failures, and leaves cleanly on SIGTERM', async () => {
    const nodeId = randomId('wint');
    const offset = 1 + Math.floor(Math.random() * 500);
    const [webPort, apiPort, movedPort, takenPort] = [
      await freePort(offset),
      await freePort(offset),
      await freePort(offset),
      await freePort(offset),
    ];
    const applied = new Inbox<AppliedReport>(nc, appliedSubject(nodeId, '*'));
    const beats = new Inbox<Heartbeat>(nc, heartbeatSubject(nodeId, '*'));
    const api = endpoint('api', { port: String(apiPort), message: 'api' });

    // given the relay stored version 1 of the node
    await putNodeDocument(
      kv,
      nodeDoc(nodeId, 1, [endpoint('web', { port: String(webPort), message: 'one' }), api]),
    );
    // when a process of the node starts
    const worker = spawnWorker(['--node-id', nodeId, '--port-offset', String(offset)]);
    const first = await applied.waitFor((r) => r.version === 1, 'applied v1');
    // then it serves version 1 on port + offset
    expect(first.ok).toBe(true);
    expect(BigInt(first.hrtimeNs)).toBeGreaterThan(0n);
    const v1 = await getJson(webPort + offset);
    expect(v1.body).toEqual({
      nodeId,
      processId: first.processId,
      moduleId: 'web',
      message: 'one',
      configVersion: 1,
    });
    expect((await getJson(webPort + offset, '/endpoint-health')).body).toEqual({
      status: 'OPERATIONAL',
    });
    const beat = await beats.waitFor((h) => h.appliedVersion === 1, 'heartbeat v1');
    expect(beat).toMatchObject({
      processId: first.processId,
      pid: worker.child.pid,
      portOffset: offset,
    });

    // when the message changes: served in place by the same process
    await putNodeDocument(
      kv,
      nodeDoc(nodeId, 2, [endpoint('web', { port: String(webPort), message: 'two' }), api]),
    );
    await applied.waitFor((r) => r.version === 2, 'applied v2');
    expect((await getJson(webPort + offset)).body).toMatchObject({
      message: 'two',
      configVersion: 2,
    });
    expect(worker.child.exitCode).toBeNull();
    expect((await beats.waitFor((h) => h.appliedVersion === 2, 'heartbeat v2')).pid).toBe(
      worker.child.pid,
    );

    // when the port changes: the listener moves, the old port is closed
    await putNodeDocument(
      kv,
      nodeDoc(nodeId, 3, [endpoint('web', { port: String(movedPort), message: 'two' }), api]),
    );
    await applied.waitFor((r) => r.version === 3, 'applied v3');
    expect((await getJson(movedPort + offset)).body).toMatchObject({
      message: 'two',
      configVersion: 3,
    });
    await expect(getJson(webPort + offset)).rejects.toThrow(/ECONNREFUSED/);

    // when the new port is taken by another listener: web keeps its old port, api keeps serving
    const blocker = net.createServer().listen(takenPort + offset, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      await putNodeDocument(
        kv,
        nodeDoc(nodeId, 4, [endpoint('web', { port: String(takenPort), message: 'three' }), api]),
      );
      const failed = await applied.waitFor((r) => r.version === 4, 'applied v4');
      expect(failed.ok).toBe(false);
      expect(failed.modules.web).toMatchObject({ state: 'failed', version: 3 });
      expect(failed.modules.web.error).toMatch(/EADDRINUSE/);
      expect(failed.modules.api).toEqual({ state: 'running', version: 4 });
      expect((await getJson(movedPort + offset)).body).toMatchObject({
        message: 'two',
        configVersion: 3,
      });
      expect((await getJson(apiPort + offset)).body).toMatchObject({
        message: 'api',
        configVersion: 4,
      });
      const failedBeat = await beats.waitFor((h) => h.appliedVersion === 4, 'heartbeat v4');
      expect(failedBeat.modules.web.state).toBe('failed');
    } finally {
      blocker.close();
    }

    // when the process gets SIGTERM: it stops its modules, announces that it left, exits 0
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    await expect(getJson(apiPort + offset)).rejects.toThrow(/ECONNREFUSED/);
    const jsm = await nc.jetstreamManager();
    const last = async (what: 'joined' | 'left') =>
      (
        await jsm.streams.getMessage(MEMBERSHIP_STREAM, {
          last_by_subj: membershipSubject(nodeId, first.processId, what),
        })
      ).json<MembershipAnnouncement>();
    expect(await last('joined')).toMatchObject({ what: 'joined', pid: worker.child.pid });
    expect(await last('left')).toMatchObject({
      what: 'left',
      nodeId,
      processId: first.processId,
      portOffset: offset,
    });
    applied.close();
    beats.close();
  });

  it('reports a module type it does not know as unsupported and runs the rest', async () => {
    const nodeId = randomId('wunk');
    const port = await freePort();
    const applied = new Inbox<AppliedReport>(nc, appliedSubject(nodeId, '*'));
    await putNodeDocument(
      kv,
      nodeDoc(nodeId, 5, [
        { ...endpoint('fhir', { 'base_url.fixed': 'x' }), type: 'ENDPOINT_FHIR_REST_R4' },
        endpoint('web', { port: String(port) }),
      ]),
    );
    const worker = spawnWorker(['--node-id', nodeId]);
    const report = await applied.waitFor((r) => r.version === 5, 'applied v5');
    expect(report.ok).toBe(true);
    expect(report.modules.fhir.state).toBe('unsupported');
    expect((await getJson(port)).body).toMatchObject({
      message: 'Hello from Plexus',
      configVersion: 5,
    });
    worker.child.kill('SIGINT');
    expect(await worker.exited).toBe(0);
    applied.close();
  });

  it('refuses to start a node that does not exist without a properties file', async () => {
    const worker = spawnWorker(['--node-id', randomId('wnone')]);
    expect(await worker.exited).toBe(1);
    expect(worker.stderr()).toMatch(
      /does not exist; start the first process of a node with --properties FILE/,
    );
  });

  it('exits 2 naming the variable when NATS_URL is not a NATS URL', async () => {
    const child = spawn(process.execPath, [WORKER, '--node-id', 'x'], {
      env: { ...process.env, NATS_URL: 'http://127.0.0.1:4222' },
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(stderr).toMatch(/^NATS_URL must be a nats:\/\/ or tls:\/\/ URL/);
  });

  it('uses the stored config and warns when its properties file differs', async () => {
    const nodeId = randomId('wdrift');
    const port = await freePort();
    const applied = new Inbox<AppliedReport>(nc, appliedSubject(nodeId, '*'));
    await putNodeDocument(
      kv,
      nodeDoc(nodeId, 2, [endpoint('web', { port: String(port), message: 'stored' })]),
    );
    const file = newFile('drift');
    writeFileSync(
      file,
      [
        `node.id = ${nodeId}`,
        'module.web.type = http-endpoint',
        `module.web.config.port = ${port}`,
        'module.web.config.message = from the file',
      ].join('\n'),
    );
    const worker = spawnWorker(['--node-id', nodeId, '--properties', file]);
    await applied.waitFor((r) => r.version === 2, 'applied v2');
    const warning = await waitForLog(
      worker,
      (l) => l.level === 'warn' && /differs from the stored node/.test(l.msg),
      'drift warning',
    );
    expect(warning.differences).toEqual(['module web: config.message differs']);
    expect((await getJson(port)).body).toMatchObject({ message: 'stored' });
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    applied.close();
  });

  describe('first start of a node from a properties file', () => {
    // A private NATS server, so that only the stand-in below can answer the seed request.
    let server: OwnNatsServer;
    let pnc: NatsConnection;
    let pkv: KV;
    let controlPlane: INestMicroservice | null = null;

    /**
     * Stands in for the control plane's seed handler (same @nestjs/microservices NATS transport
     * and queue group): decides SeedNode with the real domain code and stores the document in
     * KV as the relay would.
     */
    @Controller()
    class SeedStandIn {
      @MessagePattern(PATTERNS.seedNode)
      async seed(@Payload() req: SeedNodeRequest): Promise<SeedNodeReply> {
        const existing = await readNodeDocument(pkv, req.nodeId);
        if (existing && !existing.archived) return { ok: true, created: false, document: existing };
        try {
          const node = nodeFromProperties(req.properties);
          const state = existing ?? emptyNode(req.nodeId);
          const events = decide(
            state,
            req.nodeId,
            { kind: 'SeedNode', properties: node.properties, modules: node.modules },
            builtInModuleTypes(),
          );
          const document = evolveAll(state, events);
          await putNodeDocument(pkv, document);
          return { ok: true, created: true, document };
        } catch (err) {
          if (err instanceof DomainError)
            return { ok: false, statusCode: 400, message: err.message };
          throw err;
        }
      }
    }
    @Module({ controllers: [SeedStandIn] })
    class SeedStandInModule {}

    const startControlPlane = async () => {
      controlPlane = await NestFactory.createMicroservice(SeedStandInModule, {
        transport: Transport.NATS,
        options: { servers: [server.url], queue: CONTROL_PLANE_QUEUE },
        logger: false,
      });
      await controlPlane.listen();
    };

    beforeAll(async () => {
      server = await OwnNatsServer.start();
      pnc = await connectNats(server.url, 'worker-int-spec-private');
      await ensureTopology(pnc);
      pkv = await openNodesBucket(pnc);
    });
    afterAll(async () => {
      await controlPlane?.close();
      await pnc?.drain();
      await server?.dispose();
    });

    const writeFile = (nodeId: string, lines: string[]) => {
      const file = newFile('seed');
      writeFileSync(file, [`# first start of ${nodeId}`, `node.id=${nodeId}`, ...lines].join('\n'));
      return file;
    };

    it('retries until the control plane answers, then creates the node and runs it', async () => {
      const nodeId = randomId('wseed');
      const port = await freePort(1);
      const file = writeFile(nodeId, [
        'module.web.type=http-endpoint',
        `module.web.config.port=${port}`,
        'module.web.config.message=seeded',
      ]);
      // given no control plane answers yet
      const first = spawnWorker(['--node-id', nodeId, '--properties', file], server.url);
      await waitForLog(
        first,
        (l) => l.level === 'warn' && /control plane did not answer/.test(l.msg),
        'seed retry warning',
      );
      // when it comes up, the node is created and run
      await startControlPlane();
      await waitForLog(first, (l) => l.msg === 'worker running', 'worker running');
      expect((await getJson(port)).body).toMatchObject({ message: 'seeded', configVersion: 2 });
      expect(await readNodeDocument(pkv, nodeId)).toMatchObject({ version: 2, properties: {} });

      // and a second process of the node uses the stored node
      const second = spawnWorker(
        ['--node-id', nodeId, '--properties', file, '--port-offset', '1'],
        server.url,
      );
      await waitForLog(second, (l) => l.msg === 'worker running', 'second worker running');
      expect((await getJson(port + 1)).body).toMatchObject({ message: 'seeded', configVersion: 2 });
      first.child.kill('SIGTERM');
      second.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(await second.exited).toBe(0);
    });

    it('prints the refusal and exits 1 when the control plane refuses the file', async () => {
      if (!controlPlane) await startControlPlane();
      const nodeId = randomId('wbad');
      const file = writeFile(nodeId, [
        'module.web.type=http-endpoint',
        'module.web.config.port=not-a-port',
      ]);
      const worker = spawnWorker(['--node-id', nodeId, '--properties', file], server.url);
      expect(await worker.exited).toBe(1);
      expect(worker.stderr()).toMatch(/refused to create node ".*": 400 .*port/);
    });
  });

  it('refuses a malformed properties file naming the line', async () => {
    const nodeId = randomId('wmal');
    const file = newFile('malformed');
    writeFileSync(
      file,
      [
        '# bad escape below',
        `node.id=${nodeId}`,
        'module.web.type=http-endpoint',
        'module.web.config.message=\\u00zz',
      ].join('\n'),
    );
    const worker = spawnWorker(['--node-id', nodeId, '--properties', file]);
    expect(await worker.exited).toBe(1);
    expect(worker.stderr()).toMatch(
      /node\.properties is not a valid node properties file: line 4: malformed escaped unicode/,
    );
  });
});
