import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import {
  announceMembership,
  AppliedReport,
  connectNats,
  DEFAULT_LEASE_MS,
  leaseTimings,
  ModuleLeases,
  NodeDocumentWatch,
  openLeasesBucket,
  publishAppliedReport,
  publishHeartbeat,
  SINGLE_MODULE_STOP_TIMEOUT_MS,
  watchNodeDocument,
} from '@plexus/bus';
import {
  mapDocumentSecrets,
  NodeDocument,
  NodeFromProperties,
  nodeFromProperties,
  ProcessIdentity,
  StringMap,
} from '@plexus/domain';
import {
  ApplyResult,
  LoadMeter,
  leasedModules,
  ModuleHost,
  ModuleTypeRegistry,
  withLogFields,
} from '@plexus/module-runtime';
import { parsePropertiesDetailed } from '@plexus/properties';
import { BatchJobResponder } from './batch-job-responder';
import { WorkerOptions } from './cli';
import { configDrift } from './config-drift';
import { ControlPlaneClient } from './control-plane.client';
import { fieldLogger } from './logger';
import { PROCESS_ID, WORKER_LOG, WORKER_OPTIONS } from './tokens';
import { errorText, sleep } from '@plexus/common';

/** The worker cannot start; main prints the message and exits 1. */
export class StartupError extends Error {
  name = 'StartupError';
}

const HEARTBEAT_MS = 1000;
/**
 * Applied reports go out this long after the apply (with the apply's own timestamp), so that
 * during a fan-out to many processes on few cores, the CPU goes to applying, not to reporting:
 * measured with 3 processes, the report's socket write was a third of a process's CPU per change.
 */
const REPORT_DELAY_MS = 30;
/** A process whose start of a single module failed contends for its lease again after this. */
const RETRY_LEASE_AFTER_FAILURE_MS = 5000;

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
  private leases: ModuleLeases | null = null;
  /** Contending for the leases a document needs before it is applied (see offer). */
  private preparing: Promise<void> | null = null;
  /** The leased modules of each offered document not applied yet, by version. */
  private readonly leasedByVersion = new Map<number, string[]>();
  private batchJobs: BatchJobResponder | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private unreported: AppliedReport[] = [];
  private reportTimer: NodeJS.Timeout | null = null;
  private loadMeter: LoadMeter | null = null;
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
      {
        natsUrl: safeUrl(natsUrl),
        portOffset,
        propertiesFile: this.options.propertiesFile,
        secretsKeyId: this.options.secretsKeyId,
      },
      'worker starting; connecting to NATS (waits until it is reachable)',
    );
    if (!this.options.secretsKeyId)
      this.logger.warn(
        'PLEXUS_SECRETS_KEY is not set: modules whose config holds encrypted secrets will fail to apply',
      );
    const nc = await connectNats(
      natsUrl,
      `plexus-worker ${nodeId} ${this.processId}`,
      { waitOnFirstConnect: true, inboxPrefix: this.options.natsInboxPrefix },
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
      services: {
        nats: nc,
        jobTypes: this.registry.jobTypes({ maxChunksPerJob: this.options.batchJobMaxChunks }),
      },
      secrets: this.options.secrets,
      moduleLogger: (moduleId) => fieldLogger(this.logger.child({ moduleId })),
      onApplied: (result) => {
        this.onApplied(result);
        this.batchJobs?.sync();
      },
      holdsLease: (moduleId) => this.leases?.holds(moduleId) ?? false,
      leaseRevision: (moduleId) => this.leases?.revision(moduleId) ?? null,
      // The lease margin covers this stop (leaseTimings checks it against the bucket's max age).
      singleStopTimeoutMs: SINGLE_MODULE_STOP_TIMEOUT_MS,
    });
    this.leases = new ModuleLeases({
      nodeId,
      processId: this.processId,
      openBucket: () => openLeasesBucket(nc, leaseTimings(DEFAULT_LEASE_MS).requestTimeoutMs),
      stopTimeoutMs: SINGLE_MODULE_STOP_TIMEOUT_MS,
      logger: withLogFields(this.log, { component: 'leases' }),
      // Winning or losing a lease replans only: the host starts or stops just that module.
      onAcquired: () => void this.host?.reevaluate(),
      onLost: async () => this.host?.reevaluate(),
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
    this.loadMeter = new LoadMeter();
    this.heartbeat = setInterval(() => this.sendHeartbeat(), HEARTBEAT_MS);
    if (this.latest) {
      this.offer(this.latest);
      await this.preparing;
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
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.sendReports();
    await this.watch?.stop().catch(() => undefined);
    this.batchJobs?.stop();
    await this.host?.stopAll();
    await this.leases?.close(); // modules stopped: a standby may take over at once
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
    if (this.applying) this.offer(doc);
  }

  /**
   * Hands a document to the host. One with a `single` module this process does not contend for
   * yet waits for one attempt at its lease first, so that the winner keeps the module running
   * through an all -> single switch; every other document goes straight to the host (no NATS
   * round trip on the apply path), behind any that is still waiting, to keep their order.
   */
  private offer(doc: NodeDocument) {
    const host = this.host;
    const leases = this.leases;
    if (!host || !leases) return;
    const leased = leasedModules(doc, this.registry);
    this.leasedByVersion.set(doc.version, leased);
    const contended = new Set(leases.contended());
    if (!this.preparing && leased.every((id) => contended.has(id))) {
      host.submit(doc);
      return;
    }
    const prepared = (this.preparing ?? Promise.resolve())
      .then(() => leases.contend(leased))
      .catch((err) =>
        this.logger.warn({ error: errorText(err) }, 'contending for module leases failed'),
      )
      .then(() => void host.submit(doc));
    this.preparing = prepared;
    void prepared.finally(() => {
      if (this.preparing === prepared) this.preparing = null;
    });
  }

  /** Reports the apply; stops contending for modules no document in play runs as single. */
  private onApplied(result: ApplyResult) {
    this.reportApplied(result);
    const keep = new Set<string>();
    for (const [version, leased] of this.leasedByVersion) {
      if (version < result.version) this.leasedByVersion.delete(version);
      else leased.forEach((id) => keep.add(id));
    }
    if (this.leases && this.leases.contended().some((id) => !keep.has(id)))
      void this.leases.retain(keep);
    // The active process of a single module that failed to start it hands it to another process.
    for (const id of this.leases?.held() ?? []) {
      const status = result.modules[id];
      if (status?.state === 'failed')
        void this.leases!.yieldLease(
          id,
          `it failed to start here: ${status.error ?? 'unknown error'}`,
          RETRY_LEASE_AFTER_FAILURE_MS,
        );
    }
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
    // Secrets are compared in clear (one that cannot be decrypted shows as differing).
    const open = (value: string) => {
      try {
        return this.options.secrets.decrypt(value);
      } catch {
        return value;
      }
    };
    const differences = configDrift(file, mapDocumentSecrets(stored, this.registry, open));
    if (differences.length)
      this.logger.warn(
        { propertiesFile: this.options.propertiesFile, version: stored.version, differences },
        'the properties file differs from the stored node; using the stored config (change it through the control plane)',
      );
  }

  private reportApplied(result: ApplyResult) {
    this.unreported.push({
      processId: this.processId,
      nodeId: this.options.nodeId,
      version: result.version,
      ok: result.ok,
      hrtimeNs: result.hrtime.toString(),
      modules: result.modules,
    });
    this.reportTimer ??= setTimeout(() => this.sendReports(), REPORT_DELAY_MS);
  }

  private sendReports() {
    this.reportTimer = null;
    const reports = this.unreported.splice(0);
    if (this.nc) for (const report of reports) publishAppliedReport(this.nc, report);
  }

  private sendHeartbeat() {
    if (!this.nc || !this.host) return;
    const modules = this.host.detailedStatuses();
    publishHeartbeat(this.nc, {
      ...this.identity(),
      appliedVersion: this.host.appliedVersion,
      modules,
      activeModules: (this.leases?.held() ?? []).filter((id) => modules[id]?.state === 'running'),
      at: new Date().toISOString(),
      ...(this.loadMeter ? { load: this.loadMeter.sample(modules) } : {}),
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
