import { ModuleSpec, NodeDocument } from '@plexus/domain';
import { dependencyOrder } from './dependency-order';
import { leaseOwners, ModuleTypeLookup } from './lease-owner';
import { changedKeys, sameMap, sameSpec } from './same-spec';

export type StopReason =
  | 'removed'
  | 'archived'
  | 'disabled'
  | 'unsupported'
  | 'type-changed'
  | 'requires-changed'
  | 'standby'
  | 'restart'
  | 'dependency-stopped';

export type StartReason = 'new' | 'restart' | 'dependency-restarted';

export type ReconcileStep =
  | { action: 'stop'; moduleId: string; reason: StopReason }
  | { action: 'reconfigure'; moduleId: string; spec: ModuleSpec; changedKeys: string[] }
  | { action: 'start'; moduleId: string; spec: ModuleSpec; reason: StartReason };

/** A module of the desired document that will not run after the plan, and why. */
export interface IdleModule {
  moduleId: string;
  state: 'stopped' | 'unsupported' | 'failed' | 'standby';
  reason: string;
}

export interface ReconcilePlan {
  version: number;
  /** Stops (dependents first), then reconfigures, then starts (dependencies first). */
  steps: ReconcileStep[];
  idle: IdleModule[];
  /** Each `single` module of the document -> the module whose lease it follows (leaseOwner). */
  leaseOwners: ReadonlyMap<string, string>;
}

export interface PlanOptions {
  /**
   * Specs that failed to apply on this process (moduleId -> the desired spec that failed). While
   * the desired spec is still exactly that one, it is not tried again: a module that kept its
   * old config keeps running it, one that has none stays down. A config change, a restart
   * (generation) or a new process tries again.
   */
  failed?: ReadonlyMap<string, ModuleSpec> | Record<string, ModuleSpec>;
  /**
   * Whether this process holds a lease (named by the module it belongs to, see leaseOwner). A
   * `single` module runs only where its owner's lease is held; elsewhere it stands by, and so
   * does whatever requires it. Default: no lease held.
   */
  holdsLease?: (moduleId: string) => boolean;
}

const toMap = <T>(m: ReadonlyMap<string, T> | Record<string, T>): ReadonlyMap<string, T> =>
  m instanceof Map ? m : new Map(Object.entries(m));

/**
 * What to do to go from the modules that run now (moduleId -> the spec each runs) to the desired
 * node document. Pure: no I/O, no clock.
 *
 * - stop: removed, disabled, node archived, type unknown to this process, type / requires
 *   changed, generation bumped (a restart), a `single` module whose lease this process does not
 *   hold (standby), or a module it requires is stopped. A change of `activation` alone does not
 *   restart a module that keeps running here.
 * - reconfigure: only `config` changed (the host may still fall back to stop + start).
 * - start: enabled modules that do not run, or were stopped above for a restart.
 * Modules of unknown types are `unsupported` (not a failure); a module whose dependency will
 * not run is not started and says why.
 */
export function planReconcile(
  running: ReadonlyMap<string, ModuleSpec> | Record<string, ModuleSpec>,
  desired: NodeDocument,
  registry: ModuleTypeLookup,
  options: PlanOptions = {},
): ReconcilePlan {
  const now = toMap(running);
  const failed = toMap(options.failed ?? {});
  const wanted = new Map(desired.modules.map((m) => [m.moduleId, m]));
  const known = (type: string) => registry.get(type) !== undefined && registry.get(type) !== null;
  const holdsLease = options.holdsLease ?? (() => false);
  const owners = leaseOwners(desired);

  // 1. What each desired module should run after the plan (its target), dependencies first.
  const targets = new Map<string, ModuleSpec>();
  const idle = new Map<string, IdleModule>();
  const setIdle = (moduleId: string, state: IdleModule['state'], reason: string) =>
    idle.set(moduleId, { moduleId, state, reason });
  const graph = [...desired.modules, ...now.values()].filter((m) => wanted.has(m.moduleId));
  for (const id of dependencyOrder(graph)) {
    const m = wanted.get(id)!;
    if (desired.archived) {
      setIdle(id, 'stopped', 'the node is archived');
      continue;
    }
    if (!m.enabled) {
      setIdle(id, 'stopped', 'the module is stopped');
      continue;
    }
    if (!known(m.type)) {
      setIdle(id, 'unsupported', `module type "${m.type}" is not supported by this process`);
      continue;
    }
    if (m.activation === 'single' && !holdsLease(owners.get(id)!)) {
      setIdle(id, 'standby', 'activation is single and another process is active');
      continue;
    }
    let target = m;
    const failedSpec = failed.get(id);
    if (failedSpec && sameSpec(failedSpec, m)) {
      const current = now.get(id);
      if (!current) {
        setIdle(id, 'failed', 'its config failed to start; waiting for a change or a restart');
        continue;
      }
      target = current; // keeps running its last good config
    }
    const blocked = Object.entries(target.requires).find(([, dep]) => !targets.has(dep));
    if (blocked) {
      const [role, dep] = blocked;
      const why = idle.get(dep);
      if (why?.state === 'standby') {
        setIdle(id, 'standby', `requires ${role} = "${dep}", which is active on another process`);
        continue;
      }
      const what = !wanted.has(dep)
        ? 'which does not exist'
        : why?.state === 'unsupported'
          ? 'which is unsupported'
          : why?.state === 'stopped'
            ? 'which is stopped'
            : 'which is not running';
      setIdle(id, 'failed', `not started: requires ${role} = "${dep}", ${what}`);
      continue;
    }
    targets.set(id, target);
  }

  // 2. Stops: what no longer runs as it does now, then whatever depends on a stopped module.
  const stops = new Map<string, StopReason>();
  for (const [id, spec] of now) {
    const m = wanted.get(id);
    const target = targets.get(id);
    let reason: StopReason | null = null;
    if (!m) reason = 'removed';
    else if (desired.archived) reason = 'archived';
    else if (!m.enabled) reason = 'disabled';
    else if (!known(m.type)) reason = 'unsupported';
    else if (!target) reason = idle.get(id)?.state === 'standby' ? 'standby' : 'dependency-stopped';
    else if (target.type !== spec.type) reason = 'type-changed';
    else if (!sameMap(target.requires, spec.requires)) reason = 'requires-changed';
    else if (target.generation !== spec.generation) reason = 'restart';
    if (reason) stops.set(id, reason);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const [id, spec] of now) {
      if (stops.has(id)) continue;
      if (Object.values(spec.requires).some((dep) => stops.has(dep) || !now.has(dep))) {
        stops.set(id, 'dependency-stopped');
        changed = true;
      }
    }
  }

  // 3. Starts and in-place reconfigures of what should run.
  const steps: ReconcileStep[] = [];
  const stopOrder = dependencyOrder([...now.values()]).reverse();
  for (const id of stopOrder) {
    const reason = stops.get(id);
    if (reason) steps.push({ action: 'stop', moduleId: id, reason });
  }
  const startOrder = dependencyOrder([...targets.values()]);
  const reconfigures: ReconcileStep[] = [];
  const starts: ReconcileStep[] = [];
  for (const id of startOrder) {
    const target = targets.get(id)!;
    const current = now.get(id);
    const stopped = stops.get(id);
    if (!current || stopped) {
      const reason: StartReason = !current
        ? 'new'
        : stopped === 'dependency-stopped'
          ? 'dependency-restarted'
          : 'restart';
      starts.push({ action: 'start', moduleId: id, spec: target, reason });
    } else if (!sameMap(current.config, target.config)) {
      reconfigures.push({
        action: 'reconfigure',
        moduleId: id,
        spec: target,
        changedKeys: changedKeys(current.config, target.config),
      });
    }
  }
  steps.push(...reconfigures, ...starts);
  const idleList = desired.modules.map((m) => idle.get(m.moduleId)).filter((x) => x !== undefined);
  return { version: desired.version, steps, idle: idleList, leaseOwners: owners };
}
