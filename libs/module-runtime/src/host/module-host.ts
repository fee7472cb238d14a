import { ModuleSpec, NodeDocument } from '@plexus/domain';
import { SINGLE_MODULE_STOP_TIMEOUT_MS } from '@plexus/bus';
import type { ModuleStatus } from '@plexus/bus';
import type { SecretsDecryptor } from '@plexus/secrets-crypto';
import {
  ModuleContext,
  ModuleInstance,
  ModuleLeaseToken,
  ModuleLogger,
  ModuleServices,
  ModuleTypeDefinition,
} from './module-type';
import { openModuleSecrets } from './open-secrets';
import {
  dependencyOrder,
  IdleModule,
  leaseOwner,
  planReconcile,
  ReconcilePlan,
  ReconcileStep,
  sameRun,
  sameSpec,
} from './reconcile-plan';
import { errorText } from '@plexus/common';

export interface ModuleTypeSource {
  get(type: string): ModuleTypeDefinition | undefined;
}

export interface ModuleHostOptions {
  registry: ModuleTypeSource;
  nodeId: string;
  processId: string;
  portOffset: number;
  logger: ModuleLogger;
  /** Handed to every module as ctx.services (the process's NATS connection, ...). */
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

export interface ApplyResult {
  nodeId: string;
  version: number;
  /** False when a module that should run does not run its desired config. */
  ok: boolean;
  /** process.hrtime.bigint() taken when the apply finished. */
  hrtime: bigint;
  durationMs: number;
  steps: ReconcileStep[];
  modules: Record<string, ModuleStatus>;
}

interface Slot {
  spec: ModuleSpec;
  instance: ModuleInstance;
  /** Version of the document the running config came from (read by ctx.configVersion()). */
  ref: { version: number };
}

/** Adds fixed fields to every line a logger writes. */
export function withLogFields(logger: ModuleLogger, fields: Record<string, unknown>): ModuleLogger {
  return {
    log: (message, more) => logger.log(message, { ...fields, ...more }),
    warn: (message, more) => logger.warn(message, { ...fields, ...more }),
    error: (message, more) => logger.error(message, { ...fields, ...more }),
  };
}

class TimeoutError extends Error {}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the modules of one node in this process and converges them on the desired node document.
 *
 * Documents are applied one at a time; while one is being applied, only the newest of those that
 * arrive is applied next (level-triggered, coalescing), and one not newer than what is applied
 * or queued is ignored. A module whose new config fails (its start or reconfigure throws) is
 * rolled back to its last good config and reported failed; the other modules keep running and
 * modules that need a failed one are not started and say why. Nothing here exits the process.
 */
export class ModuleHost {
  private readonly running = new Map<string, Slot>();
  /** moduleId -> the desired spec that failed to apply, and why (see PlanOptions.failed). */
  private readonly failures = new Map<string, { spec: ModuleSpec; error: string }>();
  private readonly statusById = new Map<string, ModuleStatus>();
  private applied: NodeDocument | null = null;
  private lastResult: ApplyResult | null = null;
  private pending: NodeDocument | null = null;
  private inFlight: NodeDocument | null = null;
  private loop: Promise<void> | null = null;
  private closed = false;
  private stopped: Promise<void> | null = null;
  /** Single module -> the module whose lease it follows (leaseOwner), for the document applied. */
  private leaseOwners = new Map<string, string>();
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly singleStopTimeoutMs: number;
  /** Documents whose secrets are decrypted already (a reevaluation applies one again). */
  private readonly opened = new WeakSet<NodeDocument>();
  /** Specs whose secrets could not be decrypted, and why: they are never handed to a module. */
  private readonly undecryptable = new WeakMap<ModuleSpec, string>();

  constructor(private readonly options: ModuleHostOptions) {
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.singleStopTimeoutMs = options.singleStopTimeoutMs ?? SINGLE_MODULE_STOP_TIMEOUT_MS;
  }

  /** Version of the last applied document (0 before the first). */
  get appliedVersion(): number {
    return this.applied?.version ?? 0;
  }

  get lastApplied(): ApplyResult | null {
    return this.lastResult;
  }

  /** Per module of the applied document: state, the version its config came from, error. */
  statuses(): Record<string, ModuleStatus> {
    return Object.fromEntries([...this.statusById].map(([id, s]) => [id, { ...s }]));
  }

  /** statuses() with the runtime details of modules that report them: for heartbeats, not for the hot apply path. */
  detailedStatuses(): Record<string, ModuleStatus> {
    return Object.fromEntries(
      [...this.statusById].map(([id, s]) => {
        const details = this.details(id);
        return [id, details ? { ...s, details } : { ...s }];
      }),
    );
  }

  private details(moduleId: string): Record<string, unknown> | undefined {
    const instance = this.running.get(moduleId)?.instance;
    try {
      return instance?.status?.();
    } catch (err) {
      return { statusError: errorText(err) };
    }
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
    if (this.closed) return false;
    const newest = Math.max(
      this.appliedVersion,
      this.inFlight?.version ?? 0,
      this.pending?.version ?? 0,
    );
    if (doc.version <= newest) return false;
    if (this.pending)
      this.options.logger.log('node document superseded before it was applied', {
        skippedVersion: this.pending.version,
        version: doc.version,
      });
    this.pending = doc;
    this.kick();
    return true;
  }

  /**
   * Plans the applied (or in-flight) document again, after something the plan depends on besides
   * the document changed (a lease of a `single` module was won or lost). Resolves once applied.
   */
  async reevaluate(): Promise<void> {
    if (this.closed) return this.stopped ?? undefined; // everything stops anyway: wait for it
    if (!this.pending) {
      const current = this.inFlight ?? this.applied;
      if (!current) return;
      this.pending = current;
      this.kick();
    }
    await this.whenIdle();
  }

  /** Submits a document and waits until it (or a newer one) is applied. */
  async apply(doc: NodeDocument): Promise<ApplyResult | null> {
    this.submit(doc);
    await this.whenIdle();
    return this.lastResult;
  }

  /** Resolves once nothing is being applied or queued. */
  async whenIdle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Stops every module, dependents before what they require; later documents are ignored. */
  stopAll(): Promise<void> {
    this.closed = true;
    this.stopped ??= this.stopEverything();
    return this.stopped;
  }

  private async stopEverything() {
    this.pending = null;
    await this.whenIdle();
    const order = dependencyOrder([...this.running.values()].map((s) => s.spec)).reverse();
    for (const id of order) await this.stopModule(id, 'shutdown');
    for (const [id, s] of this.statusById) this.statusById.set(id, { ...s, state: 'stopped' });
  }

  /** Starts the apply loop unless it runs; one queued while it was finishing starts it again. */
  private kick() {
    if (this.loop) return;
    this.loop = this.drain().finally(() => {
      this.loop = null;
      if (this.pending && !this.closed) this.kick();
    });
  }

  private async drain() {
    while (this.pending && !this.closed) {
      const doc = this.pending;
      this.pending = null;
      this.inFlight = doc;
      try {
        await this.applyNow(doc);
      } catch (err) {
        // Only a bug gets here (module errors are caught per step); keep the process up.
        this.options.logger.error('applying the node document failed', {
          version: doc.version,
          error: errorText(err),
        });
      } finally {
        this.inFlight = null;
      }
    }
  }

  /** The document with its modules' secrets decrypted, failures noted per module spec. */
  private openSecrets(doc: NodeDocument): NodeDocument {
    const secrets = this.options.secrets;
    if (!secrets || this.opened.has(doc)) return doc;
    const { document, failures } = openModuleSecrets(doc, this.options.registry, secrets);
    for (const [spec, error] of failures) this.undecryptable.set(spec, error);
    this.opened.add(document);
    return document;
  }

  /** What a module is handed: its config, unless its secrets could not be decrypted. */
  private configOf(spec: ModuleSpec) {
    const problem = this.undecryptable.get(spec);
    if (problem) throw new Error(problem);
    return { ...spec.config };
  }

  private async applyNow(received: NodeDocument) {
    const doc = this.openSecrets(received);
    const started = Date.now();
    const log = this.options.logger;
    const runningSpecs = new Map([...this.running].map(([id, s]) => [id, s.spec]));
    const failedSpecs = new Map([...this.failures].map(([id, f]) => [id, f.spec]));
    this.leaseOwners = new Map(
      doc.modules
        .filter((m) => m.activation === 'single')
        .map((m) => [m.moduleId, leaseOwner(doc, m.moduleId)]),
    );
    const plan = planReconcile(runningSpecs, doc, this.options.registry, {
      failed: failedSpecs,
      holdsLease: this.options.holdsLease,
    });
    log.log('applying node document', {
      version: doc.version,
      steps: plan.steps.map((s) => `${s.action} ${s.moduleId}`),
    });

    const blocked = new Map<string, string>();
    const stoppedNow = new Map<string, { spec: ModuleSpec; version: number }>();
    for (const step of plan.steps) {
      if (step.action === 'stop') {
        const slot = this.running.get(step.moduleId);
        if (slot) stoppedNow.set(step.moduleId, { spec: slot.spec, version: slot.ref.version });
        await this.stopModule(step.moduleId, step.reason);
      } else if (step.action === 'reconfigure') {
        await this.reconfigureModule(step.moduleId, step.spec, doc, step.changedKeys, blocked);
      } else {
        this.setStatus(step.moduleId, { state: 'starting', version: doc.version });
        const previous = stoppedNow.get(step.moduleId);
        await this.startWithRollback(step.moduleId, step.spec, doc, previous, blocked);
      }
    }

    this.applied = doc;
    const modules = this.settle(doc, plan, blocked);
    const hrtime = process.hrtime.bigint();
    const ok = Object.values(modules).every((m) => m.state !== 'failed');
    const result: ApplyResult = {
      nodeId: doc.nodeId,
      version: doc.version,
      ok,
      hrtime,
      durationMs: Date.now() - started,
      steps: plan.steps,
      modules,
    };
    this.lastResult = result;
    const failed = Object.entries(modules)
      .filter(([, m]) => m.state === 'failed')
      .map(([id, m]) => `${id}: ${m.error}`);
    if (ok)
      log.log('node document applied', { version: doc.version, durationMs: result.durationMs });
    else
      log.warn('node document applied with failures', {
        version: doc.version,
        durationMs: result.durationMs,
        failed,
      });
    try {
      this.options.onApplied?.(result);
    } catch (err) {
      log.error('onApplied callback failed', { error: errorText(err) });
    }
  }

  /** Final statuses of the applied document; bumps the version of modules that run it as is. */
  private settle(doc: NodeDocument, plan: ReconcilePlan, blocked: Map<string, string>) {
    const idle = new Map<string, IdleModule>(plan.idle.map((i) => [i.moduleId, i]));
    for (const [id, f] of this.failures) {
      const m = doc.modules.find((x) => x.moduleId === id);
      // A module standing by failed on this process as the active one: when this process is
      // active again, it tries again (what failed may have been the previous holder's doing).
      if (!m || !sameSpec(m, f.spec) || idle.get(id)?.state === 'standby') this.failures.delete(id);
    }
    this.statusById.clear();
    for (const m of doc.modules) {
      const slot = this.running.get(m.moduleId);
      const failure = this.failures.get(m.moduleId);
      let status: ModuleStatus;
      if (slot) {
        if (!failure && sameRun(slot.spec, m)) {
          slot.spec = m; // a change of activation alone applies without a restart
          slot.ref.version = doc.version;
        }
        status = failure
          ? { state: 'failed', version: slot.ref.version, error: failure.error }
          : { state: 'running', version: slot.ref.version };
      } else if (failure) {
        status = { state: 'failed', version: doc.version, error: failure.error };
      } else if (blocked.has(m.moduleId)) {
        status = { state: 'failed', version: doc.version, error: blocked.get(m.moduleId) };
      } else {
        const i = idle.get(m.moduleId);
        const state = i?.state ?? 'stopped';
        status = { state, version: doc.version };
        if (i && i.state !== 'stopped' && i.state !== 'standby') status.error = i.reason;
      }
      this.statusById.set(m.moduleId, status);
    }
    return this.statuses();
  }

  private setStatus(moduleId: string, status: ModuleStatus) {
    this.statusById.set(moduleId, status);
  }

  private moduleLogger(moduleId: string) {
    return (
      this.options.moduleLogger?.(moduleId) ?? withLogFields(this.options.logger, { moduleId })
    );
  }

  /** See ModuleContext.mayServe: the activation of the spec the module runs now decides. */
  private mayServe(moduleId: string, started: ModuleSpec): boolean {
    const spec = this.running.get(moduleId)?.spec ?? started;
    if (spec.activation !== 'single') return true;
    return this.options.holdsLease?.(this.leaseOwners.get(moduleId) ?? moduleId) ?? false;
  }

  /** See ModuleContext.lease: the token of the lease the module follows (leaseOwner). */
  private lease(moduleId: string, started: ModuleSpec): ModuleLeaseToken | null {
    const spec = this.running.get(moduleId)?.spec ?? started;
    if (spec.activation !== 'single') return null;
    const revision = this.options.leaseRevision?.(this.leaseOwners.get(moduleId) ?? moduleId);
    return revision ? { revision } : null;
  }

  /** Starts one module; throws what its start threw. Dependencies must be running. */
  private async startModule(moduleId: string, spec: ModuleSpec, version: number) {
    const definition = this.options.registry.get(spec.type);
    if (!definition) throw new Error(`module type "${spec.type}" is not supported by this process`);
    const dependencies: Record<string, ModuleInstance> = {};
    for (const [role, dep] of Object.entries(spec.requires)) {
      const slot = this.running.get(dep);
      if (!slot) throw new Error(`requires ${role} = "${dep}", which is not running`);
      dependencies[role] = slot.instance;
    }
    const ref = { version };
    const ctx: ModuleContext = {
      nodeId: this.options.nodeId,
      processId: this.options.processId,
      moduleId,
      portOffset: this.options.portOffset,
      configVersion: () => ref.version,
      dependencies,
      logger: this.moduleLogger(moduleId),
      services: this.options.services ?? {},
      mayServe: () => this.mayServe(moduleId, spec),
      lease: () => this.lease(moduleId, spec),
    };
    const starting = definition.start(this.configOf(spec), ctx);
    let instance: ModuleInstance;
    try {
      instance = await withTimeout(starting, this.startTimeoutMs, `start of module "${moduleId}"`);
    } catch (err) {
      if (err instanceof TimeoutError) {
        // If it starts after all, stop it: the host has given up on it.
        starting.then((late) => late.stop()).catch(() => undefined);
      }
      throw err;
    }
    this.running.set(moduleId, { spec, instance, ref });
    this.options.logger.log('module started', { moduleId, type: spec.type, version });
  }

  /**
   * Starts a module with the desired spec. When that fails and the module ran an older config
   * until this apply stopped it, starts that one again. Never throws.
   */
  private async startWithRollback(
    moduleId: string,
    spec: ModuleSpec,
    doc: NodeDocument,
    previous: { spec: ModuleSpec; version: number } | undefined,
    blocked: Map<string, string>,
  ) {
    const missing = Object.entries(spec.requires).find(([, dep]) => !this.running.has(dep));
    if (missing) {
      const [role, dep] = missing;
      const why = this.failures.get(dep)?.error ?? this.statusById.get(dep)?.error;
      const reason = `not started: requires ${role} = "${dep}", which is not running${why ? ` (${why})` : ''}`;
      blocked.set(moduleId, reason);
      this.options.logger.warn('module not started', { moduleId, reason });
      return;
    }
    const desired = doc.modules.find((m) => m.moduleId === moduleId) ?? spec;
    const version = sameSpec(spec, desired) ? doc.version : (previous?.version ?? doc.version);
    try {
      await this.startModule(moduleId, spec, version);
      if (sameSpec(spec, desired)) this.failures.delete(moduleId);
      return;
    } catch (err) {
      const error = errorText(err);
      this.options.logger.error('module failed to start', { moduleId, version, error });
      this.failures.set(moduleId, {
        spec: desired,
        error: sameSpec(spec, desired)
          ? `config of version ${doc.version} failed to start: ${error}`
          : `restart with the config of version ${version} failed: ${error}`,
      });
    }
    if (!previous || sameSpec(previous.spec, spec)) return;
    try {
      await this.startModule(moduleId, previous.spec, previous.version);
      this.failures.set(moduleId, {
        spec: desired,
        error: `${this.failures.get(moduleId)!.error}; rolled back to the config of version ${previous.version}`,
      });
      this.options.logger.warn('module rolled back to its last good config', {
        moduleId,
        version: previous.version,
      });
    } catch (err) {
      const error = errorText(err);
      this.failures.set(moduleId, {
        spec: desired,
        error: `${this.failures.get(moduleId)!.error}; rollback to version ${previous.version} failed too: ${error}`,
      });
      this.options.logger.error('module rollback failed', { moduleId, error });
    }
  }

  private async reconfigureModule(
    moduleId: string,
    spec: ModuleSpec,
    doc: NodeDocument,
    keys: string[],
    blocked: Map<string, string>,
  ) {
    const slot = this.running.get(moduleId);
    if (!slot) return this.startWithRollback(moduleId, spec, doc, undefined, blocked);
    const desired = doc.modules.find((m) => m.moduleId === moduleId) ?? spec;
    if (slot.instance.reconfigure) {
      try {
        const inPlace = await withTimeout(
          slot.instance.reconfigure(this.configOf(spec)),
          this.startTimeoutMs,
          `reconfigure of module "${moduleId}"`,
        );
        if (inPlace) {
          slot.spec = spec;
          slot.ref.version = doc.version;
          this.failures.delete(moduleId);
          this.options.logger.log('module reconfigured', { moduleId, keys, version: doc.version });
          return;
        }
      } catch (err) {
        // The instance contract: a throwing reconfigure keeps running its old config.
        const error = errorText(err);
        this.failures.set(moduleId, {
          spec: desired,
          error: `config of version ${doc.version} failed to apply: ${error}; still running the config of version ${slot.ref.version}`,
        });
        this.options.logger.error('module reconfigure failed; old config kept', {
          moduleId,
          keys,
          error,
        });
        return;
      }
    }
    await this.restartWithDependents(moduleId, spec, doc, blocked);
  }

  /** A config change that cannot apply in place: stop dependents and module, start it, then them. */
  private async restartWithDependents(
    moduleId: string,
    spec: ModuleSpec,
    doc: NodeDocument,
    blocked: Map<string, string>,
  ) {
    const dependents = new Set<string>();
    for (let grew = true; grew;) {
      grew = false;
      for (const [id, s] of this.running) {
        if (dependents.has(id) || id === moduleId) continue;
        if (Object.values(s.spec.requires).some((d) => d === moduleId || dependents.has(d))) {
          dependents.add(id);
          grew = true;
        }
      }
    }
    const saved = new Map<string, { spec: ModuleSpec; version: number }>();
    const order = dependencyOrder([...this.running.values()].map((s) => s.spec))
      .reverse()
      .filter((id) => dependents.has(id) || id === moduleId);
    for (const id of order) {
      const s = this.running.get(id)!;
      saved.set(id, { spec: s.spec, version: s.ref.version });
      await this.stopModule(id, id === moduleId ? 'reconfigure' : 'dependency-restart');
    }
    await this.startWithRollback(moduleId, spec, doc, saved.get(moduleId), blocked);
    for (const id of [...order].reverse()) {
      if (id === moduleId) continue;
      const s = saved.get(id)!;
      await this.startWithRollback(id, s.spec, { ...doc, version: s.version }, undefined, blocked);
    }
  }

  private async stopModule(moduleId: string, reason: string) {
    const slot = this.running.get(moduleId);
    if (!slot) return;
    this.running.delete(moduleId);
    const timeoutMs =
      slot.spec.activation === 'single' ? this.singleStopTimeoutMs : this.stopTimeoutMs;
    try {
      await withTimeout(slot.instance.stop(), timeoutMs, `stop of module "${moduleId}"`);
      this.options.logger.log('module stopped', { moduleId, reason });
    } catch (err) {
      this.options.logger.error('module did not stop cleanly', {
        moduleId,
        reason,
        error: errorText(err),
      });
    }
    const status = this.statusById.get(moduleId);
    if (status) this.statusById.set(moduleId, { ...status, state: 'stopped' });
  }
}
