import { KV, KvEntry, NatsConnection, QueuedIterator, Status } from 'nats';
import { errorText, Logger, silentLogger } from '@plexus/common';
import { listenToStatus } from './connection-state';

/** Where an entry came from: the KV watch, or a direct read of the key (the safety net). */
export type WatchedEntrySource = 'watch' | 'read';

export interface ResilientWatchOptions {
  /** Opens the bucket; retried until it succeeds, then kept (the bucket is addressed by name). */
  bucket: () => Promise<KV>;
  /** A key, or a pattern with wildcards (`realm.*`); default `>`, the whole bucket. */
  key?: string;
  /**
   * Called with every entry, in bucket order: after each (re)start first the current value of
   * every matching key (delete and purge markers included), then every change.
   */
  onEntry: (entry: KvEntry, source: WatchedEntrySource) => void;
  /**
   * Called after each (re)start once the current values have been delivered, before any later
   * change: what was not delivered since the start is no longer in the bucket.
   */
  onCurrent?: (generation: number) => void;
  /**
   * For a single key (no wildcards): how often the key is also read with get() and handed to
   * onEntry, in case the watch silently stops delivering (default 0: never).
   */
  readIntervalMs?: number;
  /** First and longest wait before re-opening a failed watch (default 250 and 5000 ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
  logger?: Logger;
  /** Fields that name the watch in log lines. */
  logFields?: Record<string, unknown>;
}

/**
 * A KV watch of a key or a bucket that keeps going: it is re-opened whenever it ends or fails
 * (its consumer lost, the bucket deleted) and whenever NATS reconnects (the server may have
 * restarted without the consumer), and every (re)start first delivers the current value of every
 * matching key. Level-triggered: a change missed while the watch was down cannot leave the caller
 * on an old value, since the next start delivers the value as it is now.
 */
export class ResilientWatch {
  private readonly logger: Logger;
  private readonly key: string;
  private readonly fields: Record<string, unknown>;
  private kv: KV | null = null;
  private iterator: QueuedIterator<KvEntry> | null = null;
  private stopped = false;
  private up = true;
  private starts = 0;
  private wake: (() => void) | null = null;
  /** restart() was called while no watch was open: close the one being opened. */
  private restartWanted = false;
  private readTimer: NodeJS.Timeout | null = null;
  private readonly unlisten: () => void;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly options: ResilientWatchOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.key = options.key ?? '>';
    this.fields = options.logFields ?? { key: this.key };
    const every = options.readIntervalMs ?? 0;
    if (every > 0 && /[*>]/.test(this.key))
      throw new Error('readIntervalMs needs a single key, not a pattern');
    this.unlisten = listenToStatus(nc, (s) => this.onStatus(s));
    this.loop = this.watchLoop();
    if (every > 0) {
      this.readTimer = setInterval(() => void this.read(), every);
      this.readTimer.unref();
    }
  }

  /** Starts watching at once; entries arrive through options.onEntry. */
  static start(nc: NatsConnection, options: ResilientWatchOptions): ResilientWatch {
    return new ResilientWatch(nc, options);
  }

  /** Counts the watch's (re)starts: 1 for the first one. */
  get generation(): number {
    return this.starts;
  }

  /** Whether NATS is connected, from the connection's status events. */
  get connected(): boolean {
    return this.up && !this.nc.isClosed();
  }

  /** Ends the current watch and opens a new one, which delivers the current values again. */
  restart(): void {
    this.restartWanted = true;
    this.iterator?.stop();
    this.wake?.();
  }

  /** Ends the watch: no callback runs after this resolves, no timer or iterator is left. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unlisten();
    if (this.readTimer) clearInterval(this.readTimer);
    this.restart();
    // A watch being opened returns within the request timeout; do not wait that long.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.loop,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000))),
    ]);
    clearTimeout(timer);
  }

  private onStatus(s: Status) {
    if (s.type === 'disconnect') this.up = false;
    if (s.type !== 'reconnect') return;
    this.up = true;
    this.logger.log('NATS reconnected; re-opening the watch', this.fields);
    this.restart();
  }

  private async bucket(): Promise<KV> {
    return (this.kv ??= await this.options.bucket());
  }

  /** The safety-net read of a single key. */
  private async read() {
    if (this.stopped || !this.connected) return;
    try {
      const entry = await (await this.bucket()).get(this.key);
      if (entry && !this.stopped) this.options.onEntry(entry, 'read');
    } catch (err) {
      if (!this.stopped)
        this.logger.warn('reading the watched key failed', {
          ...this.fields,
          error: errorText(err),
        });
    }
  }

  private async watchLoop() {
    const min = this.options.retryMinMs ?? 250;
    const max = this.options.retryMaxMs ?? 5000;
    let delay = min;
    while (!this.stopped) {
      let wait: number;
      try {
        await this.watchOnce();
        if (this.stopped) break;
        // Re-open at once after a restart(); after an end nobody asked for, wait a little so a
        // watch the server keeps ending cannot spin.
        wait = this.restartWanted ? 0 : min;
        if (!this.restartWanted) this.logger.log('watch ended; re-opening it', this.fields);
        delay = min;
      } catch (err) {
        if (this.stopped) break;
        this.logger.warn('watching failed; retrying', {
          ...this.fields,
          retryInMs: delay,
          error: errorText(err),
        });
        wait = delay;
        delay = Math.min(delay * 2, max);
      }
      if (wait) await this.pause(wait);
    }
  }

  /** One watch, from its opening until it ends. */
  private async watchOnce() {
    this.restartWanted = false;
    const kv = await this.bucket();
    if (this.stopped) return;
    const generation = ++this.starts;
    let current = false;
    const markCurrent = () => {
      if (current || this.stopped) return;
      current = true;
      this.options.onCurrent?.(generation);
    };
    let it: QueuedIterator<KvEntry> | null = null;
    let early = false;
    it = await kv.watch({
      key: this.key,
      // nats.js calls this in order with the entries, except when they all arrived before
      // watch() returned: then it runs at once, while they still wait in the iterator.
      initializedFn: () => (it ? markCurrent() : (early = true)),
    });
    this.iterator = it;
    if (this.stopped || this.restartWanted) it.stop();
    // In the early case, the current values are exactly the entries received so far.
    const initial = early ? it.getReceived() : Infinity;
    if (it.getProcessed() >= initial) markCurrent();
    try {
      for await (const entry of it) {
        if (this.stopped) break;
        this.options.onEntry(entry, 'watch');
        // delta: entries still pending after this one; 0 means caught up with the bucket.
        if (!current && (entry.delta === 0 || it.getProcessed() >= initial)) markCurrent();
      }
    } finally {
      it.stop();
      if (this.iterator === it) this.iterator = null;
    }
  }

  /** Waits before a retry; restart() and stop() end the wait early. */
  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
