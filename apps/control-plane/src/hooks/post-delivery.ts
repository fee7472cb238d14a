/** How one HTTP attempt of a delivery ended. */
export interface AttemptResult {
  ok: boolean;
  outcome: 'succeeded' | 'http-error' | 'timeout' | 'connection-error';
  httpStatus?: number;
  error?: string;
  durationMs: number;
}

/**
 * POSTs a signed body once, giving up after `timeoutMs` (an AbortController per attempt, so a
 * hung receiver never holds a delivery longer). 2xx is success; anything else, a redirect
 * included, is a failure to retry. The answer's body is discarded.
 */
export async function postDelivery(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<AttemptResult> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'plexus-webhooks', ...headers },
      body,
      redirect: 'manual',
      signal: controller.signal,
    });
    await res.body?.cancel().catch(() => undefined);
    const ok = res.status >= 200 && res.status < 300;
    return {
      ok,
      outcome: ok ? 'succeeded' : 'http-error',
      httpStatus: res.status,
      ...(ok ? {} : { error: `answered ${res.status}` }),
      durationMs: elapsed(),
    };
  } catch (err) {
    if (controller.signal.aborted)
      return {
        ok: false,
        outcome: 'timeout',
        error: `no answer within ${timeoutMs} ms`,
        durationMs: elapsed(),
      };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return {
      ok: false,
      outcome: 'connection-error',
      error: cause?.code ?? cause?.message ?? (err as Error).message,
      durationMs: elapsed(),
    };
  } finally {
    clearTimeout(timer);
  }
}
