import { ModuleSpec, NodeDocument } from '@plexus/domain';
import type { ModuleStatus } from '@plexus/domain';
import { IdleModule, ReconcilePlan, ReconcileStep } from '../plan/reconcile-plan';
import { sameRun, sameSpec } from '../plan/same-spec';
import { RunningModule } from './running-modules';

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

/** The desired spec that failed to apply on this process, and why (see PlanOptions.failed). */
export interface ModuleFailure {
  spec: ModuleSpec;
  error: string;
}

/** What a host reports: per module state, failures, the applied document and its result. */
export class HostStatus {
  private readonly byId = new Map<string, ModuleStatus>();
  /** moduleId -> the desired spec that failed to apply, and why. */
  private readonly failures = new Map<string, ModuleFailure>();
  private appliedDoc: NodeDocument | null = null;
  private result: ApplyResult | null = null;

  /** The document applied last (secrets decrypted), null before the first. */
  get applied(): NodeDocument | null {
    return this.appliedDoc;
  }

  get appliedVersion(): number {
    return this.appliedDoc?.version ?? 0;
  }

  get lastApplied(): ApplyResult | null {
    return this.result;
  }

  /** Per module of the applied document: state, the version its config came from, error. */
  statuses(): Record<string, ModuleStatus> {
    return Object.fromEntries([...this.byId].map(([id, s]) => [id, { ...s }]));
  }

  /** statuses() with the runtime details modules report (`details` asks one module). */
  detailedStatuses(
    details: (moduleId: string) => Record<string, unknown> | undefined,
  ): Record<string, ModuleStatus> {
    return Object.fromEntries(
      [...this.byId].map(([id, s]) => {
        const more = details(id);
        return [id, more ? { ...s, details: more } : { ...s }];
      }),
    );
  }

  set(moduleId: string, status: ModuleStatus): void {
    this.byId.set(moduleId, status);
  }

  /** A module stopped: its status (if it has one) says so. */
  stopped(moduleId: string): void {
    const status = this.byId.get(moduleId);
    if (status) this.byId.set(moduleId, { ...status, state: 'stopped' });
  }

  allStopped(): void {
    for (const [id, s] of this.byId) this.byId.set(id, { ...s, state: 'stopped' });
  }

  /** moduleId -> the desired spec that failed here (PlanOptions.failed). */
  failedSpecs(): Map<string, ModuleSpec> {
    return new Map([...this.failures].map(([id, f]) => [id, f.spec]));
  }

  failure(moduleId: string): ModuleFailure | undefined {
    return this.failures.get(moduleId);
  }

  fail(moduleId: string, spec: ModuleSpec, error: string): void {
    this.failures.set(moduleId, { spec, error });
  }

  clearFailure(moduleId: string): void {
    this.failures.delete(moduleId);
  }

  /** Why a module does not run, as far as known: its failure, else its status's error. */
  errorOf(moduleId: string): string | undefined {
    return this.failures.get(moduleId)?.error ?? this.byId.get(moduleId)?.error;
  }

  /**
   * Records `doc` as applied and the final status of each of its modules; a module that runs
   * the document's spec as is (perhaps with another activation) moves to its version.
   * `blocked`: modules not started during the apply because a dependency did not run, and why.
   */
  settle(
    doc: NodeDocument,
    plan: ReconcilePlan,
    blocked: ReadonlyMap<string, string>,
    running: {
      get(moduleId: string): RunningModule | undefined;
      update(moduleId: string, spec: ModuleSpec, version: number): void;
    },
  ): Record<string, ModuleStatus> {
    this.appliedDoc = doc;
    const idle = new Map<string, IdleModule>(plan.idle.map((i) => [i.moduleId, i]));
    for (const [id, f] of this.failures) {
      const m = doc.modules.find((x) => x.moduleId === id);
      // A module standing by failed on this process as the active one: when this process is
      // active again, it tries again (what failed may have been the previous holder's doing).
      if (!m || !sameSpec(m, f.spec) || idle.get(id)?.state === 'standby') this.failures.delete(id);
    }
    this.byId.clear();
    for (const m of doc.modules) {
      const slot = running.get(m.moduleId);
      const failure = this.failures.get(m.moduleId);
      let status: ModuleStatus;
      if (slot) {
        // a change of activation alone applies without a restart
        if (!failure && sameRun(slot.spec, m)) running.update(m.moduleId, m, doc.version);
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
      this.byId.set(m.moduleId, status);
    }
    return this.statuses();
  }

  /** Records the result of the apply just settled. */
  finished(result: ApplyResult): void {
    this.result = result;
  }
}
