import type { ModuleHealthReport, ModuleStatus, ProcessRuntimeStatus } from '@plexus/domain';
import type { ApplyResult } from '@plexus/module-runtime';

/** Health details travel in every heartbeat: larger ones are cut down to their error. */
export const HEALTH_DETAILS_MAX_CHARS = 2048;

/** `health` with details small enough for a heartbeat (HEALTH_DETAILS_MAX_CHARS as JSON). */
export function smallHealth(health: ModuleHealthReport): ModuleHealthReport {
  if (!health.details) return { status: health.status };
  let size: number;
  try {
    size = JSON.stringify(health.details).length;
  } catch {
    size = Infinity; // cyclic or otherwise not JSON
  }
  if (size <= HEALTH_DETAILS_MAX_CHARS) return { status: health.status, details: health.details };
  const error = health.details.error;
  return {
    status: health.status,
    details: {
      ...(typeof error === 'string' ? { error: error.slice(0, 500) } : {}),
      truncated: `details longer than ${HEALTH_DETAILS_MAX_CHARS} characters left out`,
    },
  };
}

/**
 * Whether an apply calls for a health check at once: it started, stopped or failed a module. A
 * config applied in place leaves every module running as it was, and the periodic check follows
 * it; skipping the check of every module there is a fifth of a worker's CPU per change beyond what
 * a bare nats.js watcher spends (bench:worker-cost, workerCpuMsOverFloor 0.33 -> 0.23 ms).
 */
export function checkHealthAfter(result: Pick<ApplyResult, 'ok' | 'steps'>): boolean {
  return !result.ok || result.steps.some((step) => step.action !== 'reconfigure');
}

/** The modules whose health status differs between two checks (appeared, went or changed). */
export function changedHealth(
  before: Readonly<Record<string, ModuleHealthReport>>,
  after: Readonly<Record<string, ModuleHealthReport>>,
): string[] {
  const ids = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...ids].filter((id) => before[id]?.status !== after[id]?.status).sort();
}

/** What this process answers when asked for its runtime status. */
export function runtimeStatusOf(
  identity: { processId: string; nodeId: string },
  appliedVersion: number,
  statuses: Record<string, ModuleStatus>,
  health: Readonly<Record<string, ModuleHealthReport>>,
  checkedAt: Date,
): ProcessRuntimeStatus {
  const modules = Object.fromEntries(
    Object.entries(statuses).map(([id, s]) => [
      id,
      {
        state: s.state,
        version: s.version,
        ...(s.error ? { error: s.error } : {}),
        ...(health[id] ? { health: health[id] } : {}),
      },
    ]),
  );
  return { ...identity, appliedVersion, modules, checkedAt: checkedAt.toISOString() };
}
