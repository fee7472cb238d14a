import { NodeDocument } from '@plexus/domain';
import { readCheckpoint, storeCheckpoint } from './checkpoints';
import { Database } from './database';
import { LOG_START, LogCursor, readMessagesBatch } from './readMessagesBatch';
import { StoredEvent } from './stored-event';

/** Where the relay delivers: it must resolve only once everything is acknowledged. */
export interface RelaySink {
  publish(events: StoredEvent[], documents: NodeDocument[]): Promise<void>;
}

export interface RelayOptions {
  name?: string;
  batchSize?: number;
  /** Safety net: read the log this often even when nobody wakes the relay. */
  idlePollMs?: number;
  /** Wait after a failed publish before retrying. */
  retryMs?: number;
  /** While busy, store the cursor at most this often. */
  checkpointEveryMs?: number;
  onError?: (err: unknown) => void;
  onPublished?: (count: number, lagMs: number) => void;
}

/**
 * Copies the event log to a sink in commit-safe order. The cursor is stored only after the sink
 * acknowledged, so a crash re-publishes at most the last batch (deduplicated by event ID).
 * `wake()` after a commit makes it read at once; otherwise it polls every `idlePollMs`.
 */
export class Relay {
  private running = false;
  private woken = false;
  private wakeWaiter: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly opts: Required<Omit<RelayOptions, 'onError' | 'onPublished'>> & RelayOptions;

  constructor(
    private readonly db: Database,
    private readonly sink: RelaySink,
    options: RelayOptions = {},
  ) {
    this.opts = {
      name: 'nats',
      batchSize: 500,
      idlePollMs: 250,
      retryMs: 500,
      checkpointEveryMs: 50,
      ...options,
    };
  }

  wake(): void {
    this.woken = true;
    this.wakeWaiter?.();
  }

  private interruptSleep: (() => void) | null = null;

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    this.interruptSleep?.();
    await this.loop;
    this.loop = null;
  }

  get isRunning() {
    return this.running;
  }

  private unsaved: LogCursor | null = null;
  private savedAt = 0;

  /**
   * Stores the cursor at most every `checkpointEveryMs` while busy (and always when idle): under
   * load that spares a statement per batch, and a crash re-publishes at most that much, which
   * JetStream's dedup window drops. The cursor never moves past what NATS acknowledged.
   */
  private async saveCursor(cursor: LogCursor, idle: boolean) {
    if (!idle) {
      this.unsaved = cursor;
      if (Date.now() - this.savedAt < this.opts.checkpointEveryMs) return;
    }
    if (!this.unsaved) return;
    await storeCheckpoint(this.db, this.opts.name, this.unsaved);
    this.unsaved = null;
    this.savedAt = Date.now();
  }

  private async run() {
    let cursor: LogCursor | null = null;
    while (this.running) {
      try {
        cursor ??= await readCheckpoint(this.db, this.opts.name);
        this.woken = false;
        const batch = await readMessagesBatch(this.db, cursor, this.opts.batchSize);
        if (!batch.events.length) {
          await this.saveCursor(cursor, true);
          await this.sleep(this.opts.idlePollMs);
          continue;
        }
        await this.sink.publish(batch.events, batch.documents);
        cursor = batch.cursor;
        await this.saveCursor(cursor, false);
        const oldest = Date.parse(batch.events[0].recordedAt);
        this.opts.onPublished?.(batch.events.length, Date.now() - oldest);
      } catch (err) {
        this.opts.onError?.(err);
        cursor = null; // re-read the stored cursor: publishing again is harmless, skipping is not
        // Not cut short by wake() (only by stop()): with NATS down, every write would otherwise spin the loop.
        await this.sleep(this.opts.retryMs, false);
      }
    }
    await this.saveCursor(cursor ?? LOG_START, true).catch(() => undefined);
  }

  /** Waits `ms`; stop() always cuts it short, wake() only when `wakeable`. */
  private sleep(ms: number, wakeable = true): Promise<void> {
    if (!this.running || (wakeable && this.woken)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeWaiter = null;
        this.interruptSleep = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interruptSleep = done;
      if (wakeable) this.wakeWaiter = done;
    });
  }
}
