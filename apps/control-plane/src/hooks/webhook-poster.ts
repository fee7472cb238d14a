import http from 'node:http';
import https from 'node:https';
import { LookupAddress } from 'node:dns';
import {
  LookupAll,
  pinnedLookup,
  resolveTarget,
  systemLookup,
  WebhookTargetPolicy,
} from './targets';

/** How one HTTP attempt of a delivery ended. */
export interface AttemptResult {
  ok: boolean;
  outcome: 'succeeded' | 'http-error' | 'timeout' | 'connection-error' | 'target-refused';
  httpStatus?: number;
  error?: string;
  durationMs: number;
}

/** Rejects when `signal` aborts, so that a hung resolution cannot outlast the attempt. */
const abortable = <T>(work: Promise<T>, signal: AbortSignal) =>
  new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    work.then(resolve, reject);
  });

/**
 * Sends delivery attempts under the webhook target policy (WEBHOOK_ALLOWED_HOSTS). Each attempt
 * resolves the URL's host once, checks every address, and connects only to those addresses
 * (pinnedLookup), keeping the host name for Host and TLS SNI: a DNS answer that changes between
 * the check and the connection cannot point the request elsewhere. Connections are kept alive
 * per poster: a pooled socket was connected to an address checked under this same policy.
 */
export class WebhookPoster {
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };

  constructor(
    private readonly policy: WebhookTargetPolicy,
    private readonly lookup: LookupAll = systemLookup,
  ) {}

  /**
   * POSTs a signed body once, giving up after `timeoutMs` (resolution included, so a hung
   * receiver or resolver never holds a delivery longer). 2xx is success; anything else, a
   * redirect included (never followed), is a failure to retry; a target the policy refuses is a
   * failed attempt whose error names the rule. The answer's body is discarded.
   */
  async post(
    url: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let answered = false;
    try {
      const target = new URL(url);
      const resolved = await abortable(
        resolveTarget(this.policy, target.hostname, this.lookup),
        controller.signal,
      );
      if ('refused' in resolved)
        return {
          ok: false,
          outcome: 'target-refused',
          error: resolved.refused,
          durationMs: elapsed(),
        };
      const status = await this.send(
        target,
        body,
        headers,
        resolved.addresses,
        controller.signal,
        () => clearTimeout(timer),
      );
      answered = true;
      const ok = status >= 200 && status < 300;
      return {
        ok,
        outcome: ok ? 'succeeded' : 'http-error',
        httpStatus: status,
        ...(ok ? {} : { error: `answered ${status}` }),
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
      const { code, message } = err as { code?: string; message?: string };
      return {
        ok: false,
        outcome: 'connection-error',
        error: code ?? message ?? String(err),
        durationMs: elapsed(),
      };
    } finally {
      // Once answered, the timer still bounds reading (and discarding) the answer's body.
      if (!answered) clearTimeout(timer);
    }
  }

  /** Closes the kept-alive connections. */
  close() {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  /** The request itself; resolves with the status once the answer's headers arrive. */
  private send(
    target: URL,
    body: string,
    headers: Record<string, string>,
    addresses: LookupAddress[],
    signal: AbortSignal,
    bodyRead: () => void,
  ): Promise<number> {
    const transport = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(
        target,
        {
          method: 'POST',
          agent: this.agents[target.protocol as 'http:' | 'https:'],
          lookup: pinnedLookup(addresses),
          signal,
          headers: {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': 'plexus-webhooks',
            ...headers,
          },
        },
        (res) => {
          res.on('error', () => undefined); // aborted while discarding the body: nothing to do
          res.on('close', bodyRead);
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}
