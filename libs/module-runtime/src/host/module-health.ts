import type { ModuleHealth } from '@plexus/module-sdk';
import type { ModuleStatus } from '@plexus/domain';
import { errorText } from '@plexus/common';
import type { ModuleInstance } from '@plexus/module-sdk';
import { withTimeout } from './with-timeout';

/** A health check that takes longer counts as DOWN: health() must be cheap (the SDK contract). */
export const HEALTH_TIMEOUT_MS = 1000;

const STATUSES = new Set(['UP', 'DEGRADED', 'DOWN']);

/**
 * The health of a running instance: its own health(), bounded by `timeoutMs` (a throw, a timeout
 * or an answer that is not a ModuleHealth is DOWN with the reason in `details.error`).
 */
export async function probeHealth(
  instance: ModuleInstance,
  timeoutMs = HEALTH_TIMEOUT_MS,
  what = 'health()',
): Promise<ModuleHealth> {
  // The SDK requires health(); a user's plain-JavaScript type may still lack it: it runs, so UP.
  if (typeof (instance as Partial<ModuleInstance>).health !== 'function') return { status: 'UP' };
  try {
    const health = await withTimeout(
      Promise.resolve().then(() => instance.health()),
      timeoutMs,
      what,
    );
    if (!health || !STATUSES.has(health.status))
      return {
        status: 'DOWN',
        details: { error: `health() answered no status of UP, DEGRADED or DOWN` },
      };
    return health.details
      ? { status: health.status, details: health.details }
      : { status: health.status };
  } catch (err) {
    return { status: 'DOWN', details: { error: errorText(err) } };
  }
}

/**
 * The health of a module that does not run here, from its state: a failed module is DOWN with
 * its error; a module that is not meant to run on this process (stopped, standing by,
 * unsupported, starting) has none.
 */
export function healthOfIdle(status: ModuleStatus): ModuleHealth | undefined {
  if (status.state !== 'failed') return undefined;
  return { status: 'DOWN', details: { error: status.error ?? 'failed' } };
}
