import { runnableDocument, type ModuleStatus, type NodeDocument } from '@plexus/domain';
import { SINGLE_MODULE_STOP_TIMEOUT_MS } from '@plexus/bus';
import type { SecretsDecryptor } from '@plexus/secrets-crypto';
import { errorText } from '@plexus/common';
import type { ModuleHealth, ModuleInstance } from '@plexus/module-sdk';
import { ModuleLogger, ModuleServices } from '../module-type';
import { shutdownOrder } from '../plan/dependency-order';
import { planReconcile } from '../plan/reconcile-plan';
import { ApplyResult, HostStatus } from './host-status';
import { LatestDocumentQueue } from './latest-document-queue';
import { ModuleSecrets } from './module-secrets';
import { moduleSessionsOver } from './module-sessions';
import { PlanExecutor } from './plan-executor';
import { ModuleTypeSource, RunningModules } from './running-modules';
import { HEALTH_TIMEOUT_MS, healthOfIdle } from './module-health';

export interface ModuleHostOptions {
  registry: ModuleTypeSource;
  nodeId: string;
  processId: string;
  portOffset: number;
  logger: ModuleLogger;
  /**
   * Handed to built-in modules as ctx.services (the process's NATS connection, ...). With a NATS
   * connection, every module's ctx.sessions opens realms of the shared session store.
   */
  services?: ModuleServices;
  /** Logger handed to one module; defaults to `logger` with `moduleId` in every line. */
  moduleLogger?: (moduleId: string) => ModuleLogger;
  /** Called after every applied document, right when the apply finished. */
  onApplied?: (result: ApplyResult) => void;
  /**
   * Whether this process holds the lease of an `activation: single` module, so it may run it
   * (see PlanOptions.holdsLease). Call reevaluate() when the answer changes. Default: never.
   */
  holdsLease?: (moduleId: string) => boolean;
  /** The fencing token of a held lease (ModuleLeases.revision), handed to modules as ctx.lease. */
  leaseRevision?: (moduleId: string) => number | null;
  /**
   * Decrypts the secret values of the documents (they are encrypted at rest) before the plan
   * compares them and modules get them. A module whose secrets it cannot decrypt fails to start
   * or keeps its old config, with the reason. Without it, configs are handed over as they are.
   */
  secrets?: SecretsDecryptor;
  /** A module start (or stop) that takes longer fails (or is abandoned). */
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  /**
   * The stop timeout of `activation: single` modules (default SINGLE_MODULE_STOP_TIMEOUT_MS):
   * it must fit in the lease margin (leaseTimings), so that a module that stops in time has
   * stopped before its lease could pass to another process.
   */
  singleStopTimeoutMs?: number;
}

/**
 * Runs the modules of one node in this process and converges them on the desired node document:
 * each document that comes through the queue (LatestDocumentQueue) is planned once
 * (planReconcile), its plan executed (PlanExecutor) and the outcome recorded (HostStatus).
 * Nothing here exits the process.
 */
export class ModuleHost {
  private readonly secrets: ModuleSecrets;
  private readonly running: RunningModules;
  private readonly status = new HostStatus();
  private readonly executor: PlanExecutor;
  private readonly queue: LatestDocumentQueue<NodeDocument>;
  private stopped: Promise<void> | null = null;

  constructor(private readonly options: ModuleHostOptions) {
    this.secrets = new ModuleSecrets(options.registry, options.secrets);
    this.running = new RunningModules({
      ...options,
      sessions: options.services?.nats
        ? moduleSessionsOver(options.services.nats, options.logger)
        : undefined,
      configOf: (spec) => this.secrets.configOf(spec),
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 10_000,
      singleStopTimeoutMs: options.singleStopTimeoutMs ?? SINGLE_MODULE_STOP_TIMEOUT_MS,
    });
    this.executor = new PlanExecutor(this.running, this.status, options.logger);
    this.queue = new LatestDocumentQueue(
      (doc) => this.applyNow(doc),
      () => this.status.applied,
      options.logger,
    );
  }

  /** Version of the last applied document (0 before the first). */
  get appliedVersion(): number {
    return this.status.appliedVersion;
  }

  get lastApplied(): ApplyResult | null {
    return this.status.lastApplied;
  }

  /** Per module of the applied document: state, the version its config came from, error. */
  statuses(): Record<string, ModuleStatus> {
    return this.status.statuses();
  }

  /**
   * statuses() with the details of each running module's health() (synchronous: a module whose
   * health() returns a promise shows what its previous one gave): for heartbeats, not for the
   * hot apply path.
   */
  detailedStatuses(): Record<string, ModuleStatus> {
    return this.status.detailedStatuses((id) => this.running.details(id));
  }

  /**
   * The health() of every module of the applied document that runs here, by module ID, all asked
   * at once: a module whose health() throws or does not answer within `timeoutMs` (default 1 s) is
   * DOWN, with the error in its details; one that failed here is DOWN with its error. Modules not
   * meant to run on this process (stopped, standing by) are not in the answer.
   */
  async health(timeoutMs = HEALTH_TIMEOUT_MS): Promise<Record<string, ModuleHealth>> {
    const entries = await Promise.all(
      Object.entries(this.status.statuses()).map(async ([id, status]) => {
        const health =
          status.state === 'running'
            ? await this.running.health(id, timeoutMs)
            : healthOfIdle(status);
        return [id, health] as const;
      }),
    );
    return Object.fromEntries(entries.filter(([, h]) => h !== undefined)) as Record<
      string,
      ModuleHealth
    >;
  }

  /** The instance running a module, if any (for tests and diagnostics). */
  instance(moduleId: string): ModuleInstance | undefined {
    return this.running.get(moduleId)?.instance;
  }

  /**
   * Queues a document to apply. Returns false when it is ignored: not newer than the one
   * applied, being applied or queued, or the host is stopped.
   */
  submit(doc: NodeDocument): boolean {
    return this.queue.submit(doc);
  }

  /**
   * Plans the applied (or in-flight) document again, after something the plan depends on besides
   * the document changed (a lease of a `single` module was won or lost). Resolves once applied.
   */
  async reevaluate(): Promise<void> {
    if (this.queue.closed) return this.stopped ?? undefined; // everything stops anyway: wait for it
    if (!this.queue.applyAgain()) return;
    await this.queue.whenIdle();
  }

  /** Submits a document and waits until it (or a newer one) is applied. */
  async apply(doc: NodeDocument): Promise<ApplyResult | null> {
    this.submit(doc);
    await this.whenIdle();
    return this.status.lastApplied;
  }

  /** Resolves once nothing is being applied or queued. */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  /** Stops every module, dependents before what they require; later documents are ignored. */
  stopAll(): Promise<void> {
    this.queue.close();
    this.stopped ??= this.stopEverything();
    return this.stopped;
  }

  private async stopEverything() {
    await this.queue.whenIdle();
    for (const id of shutdownOrder(this.running.specs().values()))
      await this.executor.stop(id, 'shutdown');
    this.status.allStopped();
  }

  private async applyNow(received: NodeDocument) {
    // Modules imported under a Smile CDR type name run with only the keys their Plexus type uses.
    const doc = this.secrets.open(runnableDocument(received));
    const started = Date.now();
    const log = this.options.logger;
    const plan = planReconcile(this.running.specs(), doc, this.options.registry, {
      failed: this.status.failedSpecs(),
      holdsLease: this.options.holdsLease,
    });
    this.running.followLeases(plan.leaseOwners);
    log.log('applying node document', {
      version: doc.version,
      steps: plan.steps.map((s) => `${s.action} ${s.moduleId}`),
    });

    const blocked = await this.executor.execute(plan, doc);

    const modules = this.status.settle(doc, plan, blocked, this.running);
    const ok = Object.values(modules).every((m) => m.state !== 'failed');
    const result: ApplyResult = {
      nodeId: doc.nodeId,
      version: doc.version,
      ok,
      hrtime: process.hrtime.bigint(),
      durationMs: Date.now() - started,
      steps: plan.steps,
      modules,
    };
    this.status.finished(result);
    if (ok)
      log.log('node document applied', { version: doc.version, durationMs: result.durationMs });
    else
      log.warn('node document applied with failures', {
        version: doc.version,
        durationMs: result.durationMs,
        failed: Object.entries(modules)
          .filter(([, m]) => m.state === 'failed')
          .map(([id, m]) => `${id}: ${m.error}`),
      });
    try {
      this.options.onApplied?.(result);
    } catch (err) {
      log.error('onApplied callback failed', { error: errorText(err) });
    }
  }
}
