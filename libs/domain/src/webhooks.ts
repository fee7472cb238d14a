import { ALL_EVENT_TYPES } from './events';

/** What a webhook may subscribe to: any recorded event type, or `*` for all of them. */
export const HOOK_EVENT_TYPES: readonly string[] = ['*', ...ALL_EVENT_TYPES];

/** Whether a hook subscribed to `events` wants an event of `type`. */
export const hookWants = (events: readonly string[], type: string) =>
  events.includes('*') || events.includes(type);

export interface RetrySchedule {
  /** Ceiling of the first retry's delay; it doubles with every attempt... */
  baseMs: number;
  /** ...up to this. */
  capMs: number;
}

/**
 * How long to wait before retrying after `attempt` (1-based) failed: exponential backoff with full
 * jitter (a uniform draw between 0 and min(cap, base * 2^(attempt - 1))), so that deliveries that
 * failed together do not all come back together. `random` returns a number in [0, 1).
 */
export function retryDelayMs(
  attempt: number,
  schedule: RetrySchedule,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * retryCeilingMs(attempt, schedule));
}

/** The largest delay `retryDelayMs` may choose after `attempt` failed. */
export function retryCeilingMs(attempt: number, { baseMs, capMs }: RetrySchedule): number {
  // 2^30 already exceeds any sensible cap; a bigger exponent would only risk Infinity.
  return Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
}
