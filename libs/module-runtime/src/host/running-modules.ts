import { ModuleSpec, StringMap } from '@plexus/domain';
import { errorText } from '@plexus/common';
import { ModuleHealth, ModuleInstance, ModuleSessionStore, withDefaults } from '@plexus/module-sdk';
import {
  ModuleLeaseToken,
  ModuleLogger,
  ModuleServices,
  RuntimeModuleContext,
} from '../module-type';
import { RegisteredModuleType } from '../registry';
import { TimeoutError, withTimeout } from './with-timeout';
import { withLogFields } from './with-log-fields';
import { probeHealth } from './module-health';

export interface ModuleTypeSource {
  get(type: string): RegisteredModuleType | undefined;
}

/** One module instance this process runs. */
export interface RunningModule {
  spec: ModuleSpec;
  instance: ModuleInstance;
  /** The context the module was started with; its config follows in-place reconfigures. */
  ctx: RuntimeModuleContext;
  /** Version of the document the running config came from (read by ctx.configVersion()). */
  ref: { version: number };
  /** The last health() that answered with a promise, for details() (heartbeats are synchronous). */
  lastHealth?: ModuleHealth;
  /** A health() promise details() still waits for: it asks no second one meanwhile. */
  healthPending?: boolean;
}

export interface RunningModulesOptions {
  registry: ModuleTypeSource;
  nodeId: string;
  processId: string;
  portOffset: number;
  logger: ModuleLogger;
  services?: ModuleServices;
  /** Opens a realm of the shared session store (ModuleContext.sessions); absent without one. */
  sessions?: (realm: string, options: { idleTimeoutMs: number }) => Promise<ModuleSessionStore>;
  moduleLogger?: (moduleId: string) => ModuleLogger;
  holdsLease?: (moduleId: string) => boolean;
  leaseRevision?: (moduleId: string) => number | null;
  /** What a module is handed as its config (secrets decrypted); throws when it cannot be. */
  configOf: (spec: ModuleSpec) => StringMap;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  singleStopTimeoutMs: number;
}

/** The module instances of this process: starting, reconfiguring and stopping one. */
export class RunningModules {
  private readonly slots = new Map<string, RunningModule>();
  /** Single module -> the module whose lease it follows (leaseOwner), for the document applied. */
  private leaseOwners: ReadonlyMap<string, string> = new Map();

  constructor(private readonly options: RunningModulesOptions) {}

  get(moduleId: string): RunningModule | undefined {
    return this.slots.get(moduleId);
  }

  has(moduleId: string): boolean {
    return this.slots.has(moduleId);
  }

  /** moduleId -> the spec each runs, in the order they were started. */
  specs(): Map<string, ModuleSpec> {
    return new Map([...this.slots].map(([id, s]) => [id, s.spec]));
  }

  /**
   * The details of a running module's health(), synchronously (for heartbeats): what it answers
   * now when it answers without a promise (the built-in types), else what its last promise gave.
   */
  details(moduleId: string): Record<string, unknown> | undefined {
    const slot = this.slots.get(moduleId);
    if (!slot) return undefined;
    if (slot.healthPending) return slot.lastHealth?.details;
    let answer: ModuleHealth | Promise<ModuleHealth>;
    try {
      answer = slot.instance.health();
    } catch (err) {
      return { healthError: errorText(err) };
    }
    if (!isPromise(answer)) return answer.details;
    slot.healthPending = true;
    answer
      .then(
        (health) => (slot.lastHealth = health),
        (err: unknown) =>
          (slot.lastHealth = { status: 'DOWN', details: { healthError: errorText(err) } }),
      )
      .finally(() => (slot.healthPending = false));
    return slot.lastHealth?.details;
  }

  /** The health of a running module (probeHealth), undefined when it does not run here. */
  async health(moduleId: string, timeoutMs: number): Promise<ModuleHealth | undefined> {
    const instance = this.slots.get(moduleId)?.instance;
    return instance
      ? probeHealth(instance, timeoutMs, `health() of module "${moduleId}"`)
      : undefined;
  }

  /** The leases single modules follow from now on (ReconcilePlan.leaseOwners). */
  followLeases(owners: ReadonlyMap<string, string>): void {
    this.leaseOwners = owners;
  }

  /** A module keeps running, now as `spec` of document `version` (same run, see sameRun). */
  update(moduleId: string, spec: ModuleSpec, version: number): void {
    const slot = this.slots.get(moduleId);
    if (!slot) return;
    slot.spec = spec;
    slot.ref.version = version;
  }

  /** The first required role whose module does not run, if any. */
  missingDependency(spec: ModuleSpec): { role: string; dep: string } | undefined {
    for (const [role, dep] of Object.entries(spec.requires))
      if (!this.slots.has(dep)) return { role, dep };
    return undefined;
  }

  /** Starts one module; throws what its start threw. Dependencies must be running. */
  async start(moduleId: string, spec: ModuleSpec, version: number): Promise<void> {
    const type = this.options.registry.get(spec.type);
    if (!type) throw new Error(`module type "${spec.type}" is not supported by this process`);
    const dependencies: Record<string, ModuleInstance> = {};
    for (const [role, dep] of Object.entries(spec.requires)) {
      const slot = this.slots.get(dep);
      if (!slot) throw new Error(`requires ${role} = "${dep}", which is not running`);
      dependencies[role] = slot.instance;
    }
    const ref = { version };
    const ctx: RuntimeModuleContext = {
      nodeId: this.options.nodeId,
      processId: this.options.processId,
      moduleId,
      config: withDefaults(type.configSchema, this.options.configOf(spec)),
      portOffset: this.options.portOffset,
      configVersion: () => ref.version,
      dependencies,
      logger: this.moduleLogger(moduleId),
      sessions: this.options.sessions,
      services: this.options.services ?? {},
      mayServe: () => this.mayServe(moduleId, spec),
      lease: () => this.lease(moduleId, spec),
    };
    const starting = type.definition.start(ctx);
    let instance: ModuleInstance;
    try {
      instance = await withTimeout(
        starting,
        this.options.startTimeoutMs,
        `start of module "${moduleId}"`,
      );
    } catch (err) {
      if (err instanceof TimeoutError) {
        // If it starts after all, stop it: the host has given up on it.
        starting.then((late) => late.stop()).catch(() => undefined);
      }
      throw err;
    }
    this.slots.set(moduleId, { spec, instance, ctx, ref });
    this.options.logger.log('module started', { moduleId, type: spec.type, version });
  }

  /**
   * Hands a running module a new config in place. 'applied' when it took it (it now runs `spec`
   * of document `version`); 'restart' when it cannot (it must restart); throws what its
   * reconfigure threw, and then keeps running its old config (the instance contract).
   */
  async reconfigure(
    moduleId: string,
    spec: ModuleSpec,
    version: number,
    changedKeys: readonly string[],
  ): Promise<'applied' | 'restart'> {
    const slot = this.slots.get(moduleId);
    // a module type in plain JavaScript may leave reconfigure out: every change restarts it
    if (typeof slot?.instance.reconfigure !== 'function') return 'restart';
    const type = this.options.registry.get(spec.type);
    if (!type) return 'restart';
    const previous = slot.ctx.config;
    const config = withDefaults(type.configSchema, this.options.configOf(spec));
    const result = await withTimeout(
      slot.instance.reconfigure({ ...slot.ctx, config }, { config, previous, changedKeys }),
      this.options.startTimeoutMs,
      `reconfigure of module "${moduleId}"`,
    );
    if (result === 'applied') {
      slot.spec = spec;
      slot.ref.version = version;
      slot.ctx.config = config;
    }
    return result === 'applied' ? 'applied' : 'restart';
  }

  /** Stops one module (never throws: a module that does not stop in time is abandoned). */
  async stop(moduleId: string, reason: string): Promise<boolean> {
    const slot = this.slots.get(moduleId);
    if (!slot) return false;
    this.slots.delete(moduleId);
    const timeoutMs =
      slot.spec.activation === 'single'
        ? this.options.singleStopTimeoutMs
        : this.options.stopTimeoutMs;
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
    return true;
  }

  private moduleLogger(moduleId: string) {
    return (
      this.options.moduleLogger?.(moduleId) ?? withLogFields(this.options.logger, { moduleId })
    );
  }

  /** See ModuleContext.mayServe: the activation of the spec the module runs now decides. */
  private mayServe(moduleId: string, started: ModuleSpec): boolean {
    const spec = this.slots.get(moduleId)?.spec ?? started;
    if (spec.activation !== 'single') return true;
    return this.options.holdsLease?.(this.leaseOwners.get(moduleId) ?? moduleId) ?? false;
  }

  /** See RuntimeModuleContext.lease: the token of the lease the module follows (leaseOwner). */
  private lease(moduleId: string, started: ModuleSpec): ModuleLeaseToken | null {
    const spec = this.slots.get(moduleId)?.spec ?? started;
    if (spec.activation !== 'single') return null;
    const revision = this.options.leaseRevision?.(this.leaseOwners.get(moduleId) ?? moduleId);
    return revision ? { revision } : null;
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}
