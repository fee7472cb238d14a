import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import {
  announceMembership,
  connectNats,
  NodeDocumentWatch,
  ProcessIdentity,
  publishAppliedReport,
  publishHeartbeat,
  watchNodeDocument,
} from '@plexus/bus';
import { NodeDocument, NodeFromProperties, nodeFromProperties, StringMap } from '@plexus/domain';
import { ApplyResult, ModuleHost, ModuleTypeRegistry, withLogFields } from '@plexus/module-runtime';
import { parsePropertiesDetailed } from '@plexus/properties';
import { BatchJobResponder } from './batch-job-responder';
import { WorkerOptions } from './cli';
import { configDrift } from './config-drift';
import { ControlPlaneClient } from './control-plane.client';
import { fieldLogger } from './logger';
import { PROCESS_ID, WORKER_LOG, WORKER_OPTIONS } from './tokens';

/** The worker cannot start; main prints the message and exits 1. */
export class StartupError extends Error {
  name = 'StartupError';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const HEARTBEAT_MS = 1000;

/** Where the NATS URL points, without credentials, for the log. */
function safeUrl(url: string) {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * One node process: joins its node, converges its modules on the node document (hot, no
 * restarts), reports what it applied and heartbeats, and leaves cleanly on shutdown.
 */
@Injectable()
export class WorkerService {
  private nc: NatsConnection | null = null;
  private watch: NodeDocumentWatch | null = null;
  private host: ModuleHost | null = null;
  private batchJobs: BatchJobResponder | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private joined: Promise<boolean> | null = null;
  private latest: NodeDocument | null = null;
  private applying = false;
  private stopping = false;
  private shutdownDone: Promise<void> | null = null;
  private readonly log;

  constructor(
    @Inject(WORKER_OPTIONS) private readonly options: WorkerOptions,
    @Inject(WORKER_LOG) private readonly logger: Logger,
    @Inject(PROCESS_ID) readonly processId: string,
    private readonly registry: ModuleTypeRegistry,
    private readonly controlPlane: ControlPlaneClient,
  ) {
    this.log = fieldLogger(logger);
  }

  get isStopping() {
    return this.stopping;
  }

  identity(): ProcessIdentity {
    return {
      processId: this.processId,
      nodeId: this.options.nodeId,
      host: hostname(),
      pid: process.pid,
      portOffset: this.options.portOffset,
    };
  }

  /** Runs the start-up sequence; throws StartupError when the node cannot be run. */
  async start(): Promise<void> {
    const { nodeId, natsUrl, portOffset } = this.options;
    const file = this.readPropertiesFile();
    this.logger.info(
      { natsUrl: safeUrl(natsUrl), portOffset, propertiesFile: this.options.propertiesFile },
      'worker starting; connecting to NATS (waits until it is reachable)',
    );
    const nc = await connectNats(
      natsUrl,
      `plexus-worker ${nodeId} ${this.processId}`,
      { waitOnFirstConnect: true },
      this.options.natsCredsFile ?? undefined,
    );
    this.nc = nc;
    void this.logConnectionStatus(nc);
    if (this.stopping) return;
    this.logger.info({ server: nc.getServer() }, 'connected to NATS');

    this.host = new ModuleHost({
      registry: this.registry,
      nodeId,
      processId: this.processId,
      portOffset,
      logger: this.log,
      services: { nats: nc, jobTypes: this.registry.jobTypes() },
      moduleLogger: (moduleId) => fieldLogger(this.logger.child({ moduleId })),
      onApplied: (result) => {
        this.reportApplied(result);
        this.batchJobs?.sync();
      },
    });
    this.batchJobs = new BatchJobResponder(
      nc,
      this.host,
      nodeId,
      withLogFields(this.log, { component: 'batch-jobs' }),
    );
    this.watch = await watchNodeDocument(nc, nodeId, (doc) => this.onDocument(doc), {
      logger: withLogFields(this.log, { component: 'node-document-watch' }),
    });
    const stored = await this.watch.initial;
    if (this.stopping) return;

    if (stored && !stored.archived) {
      this.logger.info(
        { version: stored.version },
        'node found in NATS KV; using the stored config',
      );
      if (file) this.warnOnDrift(file.node, stored);
    } else {
      await this.seed(file, stored);
      if (this.stopping) return;
    }

    const identity = this.identity();
    this.joined = announceMembership(
      nc,
      { ...identity, what: 'joined', at: new Date().toISOString() },
      { logger: this.log, cancelled: () => this.stopping },
    );
    this.applying = true;
    this.heartbeat = setInterval(() => this.sendHeartbeat(), HEARTBEAT_MS);
    if (this.latest) {
      this.host.submit(this.latest);
      await this.host.whenIdle(); // "running" means the node's modules have been started
    }
    this.logger.info({ version: this.host.appliedVersion }, 'worker running');
  }

  /** Stops modules (dependents first), announces `left` (up to ~3 s for the ack), drains NATS. */
  shutdown(reason: string): Promise<void> {
    this.shutdownDone ??= this.doShutdown(reason);
    return this.shutdownDone;
  }

  private async doShutdown(reason: string) {
    this.stopping = true;
    this.logger.info({ reason }, 'worker stopping');
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.watch?.stop().catch(() => undefined);
    this.batchJobs?.stop();
    await this.host?.stopAll();
    const nc = this.nc;
    if (nc && !nc.isClosed() && this.joined) {
      await Promise.race([this.joined, sleep(2500)]);
      const acked = await announceMembership(
        nc,
        { ...this.identity(), what: 'left', at: new Date().toISOString() },
        { logger: this.log, deadlineMs: 3000 },
      );
      if (!acked) this.logger.warn('leaving without an acknowledged "left" announcement');
    }
    if (nc && !nc.isClosed()) {
      await Promise.race([nc.drain().catch(() => nc.close()), sleep(2000)]);
      if (!nc.isClosed()) await nc.close();
    }
    this.logger.info('worker stopped');
  }

  private onDocument(doc: NodeDocument) {
    this.latest = doc;
    if (this.applying) this.host?.submit(doc);
  }

  /** The parsed --properties file (null without one); a bad file stops the start. */
  private readPropertiesFile(): { flat: StringMap; node: NodeFromProperties } | null {
    const path = this.options.propertiesFile;
    if (!path) return null;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new StartupError(`cannot read --properties file ${path}: ${errorText(err)}`);
    }
    try {
      const parsed = parsePropertiesDetailed(bytes);
      for (const d of parsed.duplicates)
        this.logger.warn(
          { key: d.key, lines: d.lines },
          'key given more than once; the last one counts',
        );
      const flat = { ...parsed.values };
      let node: NodeFromProperties;
      try {
        node = nodeFromProperties(flat);
      } catch (err) {
        // Point at the line of the key the domain complains about.
        const message = errorText(err);
        const key = /key "([^"]+)"/.exec(message)?.[1];
        const moduleId = /module "([^"]+)"/.exec(message)?.[1];
        const entry = parsed.entries.find((e) =>
          key ? e.key === key : moduleId ? e.key.startsWith(`module.${moduleId}.`) : false,
        );
        throw new StartupError(
          `${path} is not a valid node properties file: ${entry ? `line ${entry.line}: ` : ''}${message}`,
        );
      }
      if (node.nodeId !== null && node.nodeId !== this.options.nodeId)
        throw new StartupError(
          `node.id in ${path} is "${node.nodeId}" but --node-id is "${this.options.nodeId}"`,
        );
      flat['node.id'] ??= this.options.nodeId;
      return { flat, node };
    } catch (err) {
      if (err instanceof StartupError) throw err;
      throw new StartupError(`${path} is not a valid node properties file: ${errorText(err)}`);
    }
  }

  /** Creates the node through the control plane, then waits for its document in NATS KV. */
  private async seed(
    file: { flat: StringMap; node: NodeFromProperties } | null,
    stored: NodeDocument | null,
  ) {
    const { nodeId } = this.options;
    if (!file) {
      throw new StartupError(
        stored
          ? `node "${nodeId}" is archived; start with --properties FILE to create it again`
          : `node "${nodeId}" does not exist; start the first process of a node with --properties FILE`,
      );
    }
    this.logger.info(
      { modules: file.node.modules.map((m) => m.moduleId) },
      'node does not exist yet; asking the control plane to create it from the properties file',
    );
    const reply = await this.controlPlane.seedNode(
      { nodeId, processId: this.processId, properties: file.flat },
      () => this.stopping,
    );
    if (!reply) return;
    if (!reply.ok)
      throw new StartupError(
        `the control plane refused to create node "${nodeId}": ${reply.statusCode} ${reply.message}`,
      );
    this.logger.info(
      { created: reply.created, version: reply.document.version },
      reply.created
        ? 'node created from the properties file'
        : 'another process created the node first; using the stored config',
    );
    const doc = await this.waitForDocument(reply.document.version);
    if (doc && !reply.created) this.warnOnDrift(file.node, doc);
  }

  private async waitForDocument(version: number): Promise<NodeDocument | null> {
    const started = Date.now();
    let nextLog = 5000;
    while (!this.stopping) {
      if (this.latest && this.latest.version >= version && !this.latest.archived)
        return this.latest;
      await sleep(20);
      if (Date.now() - started >= nextLog) {
        this.logger.warn(
          { version, waitedMs: Date.now() - started },
          "waiting for the node document in NATS KV (the control plane's relay publishes it)",
        );
        nextLog += 5000;
      }
    }
    return null;
  }

  private warnOnDrift(file: NodeFromProperties, stored: NodeDocument) {
    const differences = configDrift(file, stored);
    if (differences.length)
      this.logger.warn(
        { propertiesFile: this.options.propertiesFile, version: stored.version, differences },
        'the properties file differs from the stored node; using the stored config (change it through the control plane)',
      );
  }

  private reportApplied(result: ApplyResult) {
    if (!this.nc) return;
    publishAppliedReport(this.nc, {
      processId: this.processId,
      nodeId: this.options.nodeId,
      version: result.version,
      ok: result.ok,
      hrtimeNs: result.hrtime.toString(),
      modules: result.modules,
    });
  }

  private sendHeartbeat() {
    if (!this.nc || !this.host) return;
    publishHeartbeat(this.nc, {
      ...this.identity(),
      appliedVersion: this.host.appliedVersion,
      modules: this.host.detailedStatuses(),
      at: new Date().toISOString(),
    });
  }

  private async logConnectionStatus(nc: NatsConnection) {
    for await (const s of nc.status()) {
      const data = typeof s.data === 'object' ? JSON.stringify(s.data) : s.data;
      if (s.type === 'disconnect')
        this.logger.warn({ server: data }, 'NATS disconnected; modules keep running');
      else if (s.type === 'reconnect') this.logger.info({ server: data }, 'NATS reconnected');
      else if (s.type === 'error') this.logger.error({ error: data }, 'NATS error');
    }
  }
}
