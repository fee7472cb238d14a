/**
 * Runtime status, as Smile CDR has it: the state and health of every module of a process, and
 * which of them make the process unhealthy. Workers answer it; the control plane and a worker's
 * management port judge it with the same rules.
 */
import type { ModuleState } from './processes';

/** The module SDK's health statuses: `UP` serves, `DEGRADED` serves with a problem, `DOWN` does not. */
export type HealthStatus = 'UP' | 'DEGRADED' | 'DOWN';

/** A module's health as its process last checked it (the SDK's ModuleHealth). */
export interface ModuleHealthReport {
  status: HealthStatus;
  details?: Record<string, unknown>;
}

/** One module in a process's runtime status. */
export interface ModuleRuntimeStatus {
  state: ModuleState;
  /** Version of the node document this module's current config came from. */
  version: number;
  error?: string;
  /** Absent for a module that is not meant to run on this process (stopped, standby, ...). */
  health?: ModuleHealthReport;
}

/** What a process answers when asked for its runtime status. */
export interface ProcessRuntimeStatus {
  processId: string;
  nodeId: string;
  appliedVersion: number;
  modules: Record<string, ModuleRuntimeStatus>;
  /** When the process checked its modules' health for this answer. */
  checkedAt: string;
}

/** A module that makes its process unhealthy, and why (`DOWN: database unreachable`). */
export interface ModuleProblem {
  moduleId: string;
  reason: string;
}

const REASON_MAX = 200;

/** The first words of why a module is down: its health's `details.error` (or reason/message). */
function reasonOf(module: ModuleRuntimeStatus): string | undefined {
  const details = module.health?.details ?? {};
  const text = [details.error, details.reason, details.message, module.error].find(
    (v): v is string => typeof v === 'string' && v.trim() !== '',
  );
  return text && text.length > REASON_MAX ? `${text.slice(0, REASON_MAX - 1)}…` : text;
}

/**
 * Why a module makes its process unhealthy, or null. A module is unhealthy when it failed here or
 * its health is DOWN. DEGRADED is healthy, as a Kubernetes readiness probe or Spring Boot sees
 * it: the module still serves, and taking the process out of a load balancer for a partial
 * problem would turn it into an outage; monitors see DEGRADED in the answer's body. Modules not
 * meant to run here (stopped, standby, unsupported) are not a problem of this process.
 */
export function moduleProblem(module: ModuleRuntimeStatus): string | null {
  if (module.state !== 'failed' && module.health?.status !== 'DOWN') return null;
  const reason = reasonOf(module);
  return reason ? `DOWN: ${reason}` : 'DOWN';
}

/** The modules that make a process unhealthy, by module ID. */
export function moduleProblems(modules: Record<string, ModuleRuntimeStatus>): ModuleProblem[] {
  return Object.entries(modules)
    .map(([moduleId, m]) => ({ moduleId, reason: moduleProblem(m) }))
    .filter((p): p is ModuleProblem => p.reason !== null)
    .sort((a, b) => a.moduleId.localeCompare(b.moduleId));
}

/** `modules not healthy: persistence (DOWN: database unreachable), web (DOWN)`. */
export const notHealthyMessage = (problems: { name: string; reason: string }[]) =>
  `modules not healthy: ${problems.map((p) => `${p.name} (${p.reason})`).join(', ')}`;
