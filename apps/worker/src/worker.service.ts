import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import {
  connectNats,
  safeNatsUrl,
  DEFAULT_LEASE_MS,
  leaseTimings,
  ModuleLeases,
  ModuleTypePublisher,
  NodeDocumentWatch,
  openLeasesBucket,
  openModuleTypesBucket,
  SINGLE_MODULE_STOP_TIMEOUT_MS,
  watchNodeDocument,
} from '@plexus/bus';
import { NodeDocument } from '@plexus/domain';
import {
  ModuleHost,
  moduleTypeRegistrations,
  ModuleTypeRegistry,
  withLogFields,
} from '@plexus/module-runtime';
import { errorText, sleep } from '@plexus/common';
import { BatchJobResponder } from './batch-job-responder';
import { WorkerOptions } from './cli';
import { LeaseGate } from './leases/lease.gate';
import { fieldLogger } from './logger';
import { StatusReporter } from './reporting/status.reporter';
import { NodeSeedingService } from './seeding/node-seeding.service';
import { HealthMonitor } from './health/health.monitor';
import { checkHealthAfter, runtimeStatusOf } from './health/module-health-report';
import { RuntimeStatusResponder } from './health/runtime-status.responder';
import { ManagementServer } from './management/management.server';
import { workerMetrics } from './management/worker-metrics';
import { StartupError } from './startup.error';

/**
 * One node process: joins its node, converges its modules on the node document (hot, no
 * restarts), reports what it applied and heartbeats, and leaves cleanly on shutdown. This class
 * runs the lifecycle; seeding, reporting and lease gating are units of their own.
 */
export class WorkerService {
  private nc: NatsConnection | null = null;
  private watch: NodeDocumentWatch | null = null;
  private host: ModuleHost | null = null;
  private leases: ModuleLeases | null = null;
  private gate: LeaseGate | null = null;
  private batchJobs: BatchJobResponder | null = null;
  private health: HealthMonitor | null = null;
  private runtimeStatus: RuntimeStatusResponder | null = null;
  private management: ManagementServer | null = null;
  /** Node documents applied since the start (for the management port's metrics). */
  private appliedCount = 0;
  private catalogue: ModuleTypePublisher | null = null;
  private latest: NodeDocument | null = null;
  private applying = false;
  private stopping = false;
  private shutdownDone: Promise<void> | null = null;
  private readonly log;

  constructor(
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
    readonly processId: string,
    private readonly registry: ModuleTypeRegistry,
    private readonly seeding: NodeSeedingService,
    private readonly reporter: StatusReporter,
  ) {
    this.log = fieldLogger(logger);
  }

  get isStopping() {
    return this.stopping;
  }

  /** Runs the start-up sequence; throws StartupError when the node cannot be run. */
  async start(): Promise<void> {
    const { nodeId, natsUrl, portOffset } = this.options;
    const file = this.seeding.readPropertiesFile();
    this.logger.info(
      {
        natsUrl: safeNatsUrl(natsUrl),
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

    const host = new ModuleHost({
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
        this.appliedCount++;
        this.reporter.reportApplied(result);
        // A module that started, stopped or failed shows at once (not after in-place configs).
        if (checkHealthAfter(result)) void this.health?.check();
        this.gate?.onApplied(result);
        this.batchJobs?.sync();
      },
      holdsLease: (moduleId) => this.leases?.holds(moduleId) ?? false,
      leaseRevision: (moduleId) => this.leases?.revision(moduleId) ?? null,
      // The lease margin covers this stop (leaseTimings checks it against the bucket's max age).
      singleStopTimeoutMs: SINGLE_MODULE_STOP_TIMEOUT_MS,
    });
    this.host = host;
    const leases = new ModuleLeases({
      nodeId,
      processId: this.processId,
      openBucket: () => openLeasesBucket(nc, leaseTimings(DEFAULT_LEASE_MS).requestTimeoutMs),
      stopTimeoutMs: SINGLE_MODULE_STOP_TIMEOUT_MS,
      logger: withLogFields(this.log, { component: 'leases' }),
      // Winning or losing a lease replans only: the host starts or stops just that module.
      onAcquired: () => void host.reevaluate(),
      onLost: async () => host.reevaluate(),
    });
    this.leases = leases;
    this.gate = new LeaseGate({ registry: this.registry, host, leases, logger: this.log });
    this.batchJobs = new BatchJobResponder(
      nc,
      host,
      nodeId,
      withLogFields(this.log, { component: 'batch-jobs' }),
    );
    this.watch = await watchNodeDocument(nc, nodeId, (doc) => this.onDocument(doc), {
      logger: withLogFields(this.log, { component: 'node-document-watch' }),
    });
    const stored = await this.watch.initial;
    if (this.stopping) return;

    // Before seeding, so that the control plane checks the file's modules of this process's types.
    await this.publishModuleTypes(nc);
    if (this.stopping) return;
    await this.seeding.ensureNode(file, stored, {
      latest: () => this.latest,
      cancelled: () => this.stopping,
    });
    if (this.stopping) return;

    const health = new HealthMonitor({
      host,
      everyMs: this.options.healthCheckMs,
      logger: withLogFields(this.log, { component: 'health' }),
      onChange: () => this.reporter.beatNow(),
    });
    this.health = health;
    this.reporter.join(nc, { host, leases, health: () => health.latest }, () => this.stopping);
    health.start();
    const identity = { nodeId, processId: this.processId };
    this.runtimeStatus = new RuntimeStatusResponder(
      nc,
      identity,
      host,
      health,
      withLogFields(this.log, { component: 'runtime-status' }),
    );
    this.runtimeStatus.start();
    await this.startManagement(host, health);
    if (this.stopping) return;
    this.applying = true;
    if (this.latest) {
      this.gate.offer(this.latest);
      await this.gate.handedOver();
      await host.whenIdle(); // "running" means the node's modules have been started
    }
    this.logger.info({ version: host.appliedVersion }, 'worker running');
  }

  /** Stops modules (dependents first), announces `left` (up to ~3 s for the ack), drains NATS. */
  shutdown(reason: string): Promise<void> {
    this.shutdownDone ??= this.doShutdown(reason);
    return this.shutdownDone;
  }

  private async doShutdown(reason: string) {
    this.stopping = true;
    this.logger.info({ reason }, 'worker stopping');
    this.reporter.stop();
    this.health?.stop();
    this.runtimeStatus?.stop();
    await this.management?.stop();
    await this.watch?.stop().catch(() => undefined);
    this.batchJobs?.stop();
    await this.host?.stopAll();
    await this.leases?.close(); // modules stopped: a standby may take over at once
    // Gone from the catalogue before `left` is announced.
    await this.catalogue
      ?.withdraw()
      .catch((err) =>
        this.logger.warn({ error: errorText(err) }, 'cannot remove this process’s module types'),
      );
    await this.reporter.leave();
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      await Promise.race([nc.drain().catch(() => nc.close()), sleep(2000)]);
      if (!nc.isClosed()) await nc.close();
    }
    this.logger.info('worker stopped');
  }

  /** The management port (--management-port), if asked for; a port it cannot bind stops the start. */
  private async startManagement(host: ModuleHost, health: HealthMonitor) {
    const where = this.options.management;
    if (!where) return;
    const identity = { nodeId: this.options.nodeId, processId: this.processId };
    const server = new ManagementServer({
      ...where,
      runtimeStatus: async () => {
        const checked = await health.check();
        return runtimeStatusOf(
          identity,
          host.appliedVersion,
          host.statuses(),
          checked,
          health.checkedAt ?? new Date(),
        );
      },
      metrics: workerMetrics(
        {
          appliedVersion: () => host.appliedVersion,
          health: () => health.latest,
          configChangesApplied: () => this.appliedCount,
          heartbeatsSent: () => this.reporter.heartbeatsSent,
        },
        { node: identity.nodeId, process: identity.processId },
      ),
      logger: withLogFields(this.log, { component: 'management' }),
    });
    try {
      await server.start();
    } catch (err) {
      throw new StartupError(
        `cannot serve the management port on ${where.host}:${where.port}: ${errorText(err)}`,
      );
    }
    this.management = server;
  }

  /**
   * Puts the module types this process runs into the catalogue the control plane validates with.
   * A failure is not fatal (modules run without it; the control plane then stores their configs
   * unchecked, and this process checks them): it is logged, and retried every 30 s.
   */
  private async publishModuleTypes(nc: NatsConnection) {
    const registrations = moduleTypeRegistrations(
      this.registry,
      this.options.nodeId,
      this.processId,
    );
    if (registrations.length === 0) return;
    try {
      const kv = await openModuleTypesBucket(nc);
      this.catalogue = new ModuleTypePublisher(kv, registrations, {
        logger: withLogFields(this.log, { component: 'module-types' }),
      });
      await this.catalogue.publish();
      this.logger.info(
        { moduleTypes: registrations.map((r) => `${r.type}@${r.version}`) },
        'module types published',
      );
    } catch (err) {
      this.logger.warn({ error: errorText(err) }, 'cannot publish this process’s module types');
    }
  }

  /** The core loop: every document the watch delivers goes to the host, through the gate. */
  private onDocument(doc: NodeDocument) {
    this.latest = doc;
    if (this.applying) this.gate?.offer(doc);
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
