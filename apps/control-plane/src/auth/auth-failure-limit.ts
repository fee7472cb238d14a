export interface AuthFailureLimitOptions {
  /** Failed token attempts a client may make in one window; 0: no limit. */
  limit: number;
  windowMs: number;
  /** How many client addresses are remembered at most (each costs a few dozen bytes). */
  maxClients?: number;
}

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Counts failed bearer-token attempts per client address in fixed windows: a client that failed
 * `limit` times within `windowMs` of its first failure is refused until that window ends, and
 * then starts afresh. Successes are never counted, so a client that only sends good tokens is
 * never refused. Pure: the caller passes the time.
 */
export class AuthFailureLimit {
  /** In order of window start (a new window is re-inserted), so the oldest come first. */
  private readonly windows = new Map<string, Window>();
  private readonly maxClients: number;

  constructor(private readonly options: AuthFailureLimitOptions) {
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** Whole seconds until `client` may try again (at least 1), or 0 when it is not refused. */
  retryAfterSeconds(client: string, now: number): number {
    if (this.options.limit === 0) return 0;
    const window = this.windows.get(client);
    if (!window) return 0;
    const left = window.startedAt + this.options.windowMs - now;
    if (left <= 0) {
      this.windows.delete(client);
      return 0;
    }
    return window.failures >= this.options.limit ? Math.max(1, Math.ceil(left / 1000)) : 0;
  }

  /** Records one failed attempt of `client`. */
  failed(client: string, now: number): void {
    if (this.options.limit === 0) return;
    const current = this.windows.get(client);
    if (current && now < current.startedAt + this.options.windowMs) {
      current.failures++;
      return;
    }
    this.windows.delete(client);
    this.forgetEnded(now);
    // Full of live windows (a flood from very many addresses): the oldest goes, so memory stays
    // bounded; such a flood could get round the limit anyway.
    if (this.windows.size >= this.maxClients)
      this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(client, { startedAt: now, failures: 1 });
  }

  /** How many clients are remembered (for tests of the bound). */
  get size(): number {
    return this.windows.size;
  }

  /** Drops ended windows from the oldest on: each is looked at once, so this costs O(1) a call on average. */
  private forgetEnded(now: number) {
    for (const [client, window] of this.windows) {
      if (now < window.startedAt + this.options.windowMs) return;
      this.windows.delete(client);
    }
  }
}
