import { ModuleSpec, NodeDocument } from '@plexus/domain';
import { errorText } from '@plexus/common';
import { ModuleLogger } from '../module-type';
import { restartOrder } from '../plan/dependency-order';
import { ReconcilePlan } from '../plan/reconcile-plan';
import { sameSpec } from '../plan/same-spec';
import { HostStatus } from './host-status';
import { RunningModules } from './running-modules';

/** The spec a module ran, and the version it came from, to roll back to. */
interface LastGood {
  spec: ModuleSpec;
  version: number;
}

/**
 * Runs the steps of a reconcile plan in order. A module whose new config fails (its start or
 * reconfigure throws) is rolled back to its last good config and recorded failed; the other
 * modules go on, and one whose dependency does not run is not started and says why.
 * Never throws for a module's failure.
 */
export class PlanExecutor {
  constructor(
    private readonly running: RunningModules,
    private readonly status: HostStatus,
    private readonly logger: ModuleLogger,
  ) {}

  /**
   * Executes the plan for `doc`. Returns the modules that were not started because a module
   * they require did not run, and why.
   */
  async execute(plan: ReconcilePlan, doc: NodeDocument): Promise<Map<string, string>> {
    const blocked = new Map<string, string>();
    const stoppedNow = new Map<string, LastGood>();
    for (const step of plan.steps) {
      if (step.action === 'stop') {
        const slot = this.running.get(step.moduleId);
        if (slot) stoppedNow.set(step.moduleId, { spec: slot.spec, version: slot.ref.version });
        await this.stop(step.moduleId, step.reason);
      } else if (step.action === 'reconfigure') {
        await this.reconfigure(step.moduleId, step.spec, doc, step.changedKeys, blocked);
      } else {
        this.status.set(step.moduleId, { state: 'starting', version: doc.version });
        const previous = stoppedNow.get(step.moduleId);
        await this.startWithRollback(step.moduleId, step.spec, doc, previous, blocked);
      }
    }
    return blocked;
  }

  async stop(moduleId: string, reason: string): Promise<void> {
    if (await this.running.stop(moduleId, reason)) this.status.stopped(moduleId);
  }

  /**
   * Starts a module with the desired spec. When that fails and the module ran an older config
   * until this apply stopped it, starts that one again. Never throws.
   */
  private async startWithRollback(
    moduleId: string,
    spec: ModuleSpec,
    doc: NodeDocument,
    previous: LastGood | undefined,
    blocked: Map<string, string>,
  ) {
    const missing = this.running.missingDependency(spec);
    if (missing) {
      const { role, dep } = missing;
      const why = this.status.errorOf(dep);
      const reason = `not started: requires ${role} = "${dep}", which is not running${why ? ` (${why})` : ''}`;
      blocked.set(moduleId, reason);
      this.logger.warn('module not started', { moduleId, reason });
      return;
    }
    const desired = doc.modules.find((m) => m.moduleId === moduleId) ?? spec;
    const isDesired = sameSpec(spec, desired);
    const version = isDesired ? doc.version : (previous?.version ?? doc.version);
    try {
      await this.running.start(moduleId, spec, version);
      if (isDesired) this.status.clearFailure(moduleId);
      return;
    } catch (err) {
      const error = errorText(err);
      this.logger.error('module failed to start', { moduleId, version, error });
      this.status.fail(
        moduleId,
        desired,
        isDesired
          ? `config of version ${doc.version} failed to start: ${error}`
          : `restart with the config of version ${version} failed: ${error}`,
      );
    }
    if (!previous || sameSpec(previous.spec, spec)) return;
    const failed = this.status.failure(moduleId)!.error;
    try {
      await this.running.start(moduleId, previous.spec, previous.version);
      this.status.fail(
        moduleId,
        desired,
        `${failed}; rolled back to the config of version ${previous.version}`,
      );
      this.logger.warn('module rolled back to its last good config', {
        moduleId,
        version: previous.version,
      });
    } catch (err) {
      const error = errorText(err);
      this.status.fail(
        moduleId,
        desired,
        `${failed}; rollback to version ${previous.version} failed too: ${error}`,
      );
      this.logger.error('module rollback failed', { moduleId, error });
    }
  }

  private async reconfigure(
    moduleId: string,
    spec: ModuleSpec,
    doc: NodeDocument,
    keys: string[],
    blocked: Map<string, string>,
  ) {
    const slot = this.running.get(moduleId);
    if (!slot) return this.startWithRollback(moduleId, spec, doc, undefined, blocked);
    const runningVersion = slot.ref.version;
    try {
      if ((await this.running.reconfigure(moduleId, spec, doc.version, keys)) === 'applied') {
        this.status.clearFailure(moduleId);
        this.logger.log('module reconfigured', { moduleId, keys, version: doc.version });
        return;
      }
    } catch (err) {
      // The instance contract: a throwing reconfigure keeps running its old config.
      const error = errorText(err);
      const desired = doc.modules.find((m) => m.moduleId === moduleId) ?? spec;
      this.status.fail(
        moduleId,
        desired,
        `config of version ${doc.version} failed to apply: ${error}; still running the config of version ${runningVersion}`,
      );
      this.logger.error('module reconfigure failed; old config kept', { moduleId, keys, error });
      return;
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
    const order = restartOrder(this.running.specs().values(), moduleId);
    const saved = new Map<string, LastGood>();
    for (const id of order) {
      const s = this.running.get(id)!;
      saved.set(id, { spec: s.spec, version: s.ref.version });
      await this.stop(id, id === moduleId ? 'reconfigure' : 'dependency-restart');
    }
    await this.startWithRollback(moduleId, spec, doc, saved.get(moduleId), blocked);
    for (const id of [...order].reverse()) {
      if (id === moduleId) continue;
      const s = saved.get(id)!;
      await this.startWithRollback(id, s.spec, { ...doc, version: s.version }, undefined, blocked);
    }
  }
}
