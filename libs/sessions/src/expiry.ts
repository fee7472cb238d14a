/**
 * Sliding expiry, as pure arithmetic (times in ms since the epoch; every process uses its own
 * wall clock, so hosts must keep their clocks in step, as NTP does).
 *
 * A session records `activeAt`, the last activity written to the store. A process that serves a
 * request with the session also remembers that moment locally (`localActiveAt`) and writes it to
 * the store only once the stored value is older than the touch interval (a tenth of the timeout,
 * at most a minute), so a busy session costs one write per interval instead of one per request.
 * Hence the stored value lags the true last activity by less than one touch interval:
 * - the process that saw the activity expires the session exactly `timeout` after it;
 * - another process may see it expire up to one touch interval earlier (never later);
 * - once `timeout + touch interval` has passed since the stored activity, no process can hold
 *   a later activity, so the session may be deleted from the store (garbage).
 */

/** Most time between two writes of one active session's activity. */
export const MAX_TOUCH_INTERVAL_MS = 60_000;

export function touchIntervalMs(timeoutMs: number): number {
  return Math.min(timeoutMs / 10, MAX_TOUCH_INTERVAL_MS);
}

export interface ActivityTimes {
  /** Last activity written to the store. */
  activeAt: number;
  /** Last activity this process saw (0 when none). */
  localActiveAt: number;
}

export function expiresAt(t: ActivityTimes, timeoutMs: number): number {
  return Math.max(t.activeAt, t.localActiveAt) + timeoutMs;
}

export function isLive(t: ActivityTimes, now: number, timeoutMs: number): boolean {
  return now < expiresAt(t, timeoutMs);
}

/** Whether a request at `now` should write the activity to the store. */
export function needsTouch(t: ActivityTimes, now: number, timeoutMs: number): boolean {
  return now - t.activeAt >= touchIntervalMs(timeoutMs);
}

/** Whether no process can consider the session live any more, so it may be deleted. */
export function isGarbage(activeAt: number, now: number, timeoutMs: number): boolean {
  return now - activeAt > timeoutMs + touchIntervalMs(timeoutMs);
}

/** `sessions.timeout.mins` (fractions allowed) in ms. */
export const minutesToMs = (mins: number) => Math.round(mins * 60_000);
