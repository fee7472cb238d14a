import { NodeDocument, RecordedEventJson } from '@plexus/domain';
import { readCheckpoint, storeCheckpoint } from './checkpoints';
import { Database } from './database';
import { LeaseFence, LeaseLost } from './leader-lease';
import { readNodeDocuments } from './node-documents';
import { DocumentVersion, LOG_START, LogCursor, readMessagesBatch } from './readMessagesBatch';

/** Where the relay delivers: it must resolve only once everything is acknowledged. */
export interface RelaySink {
  /** `documents`: the current document (as stored) of each node the events touched that it wants. */
  publish(events: RecordedEventJson[], documents: NodeDocument[]): Promise<void>;
  /**
   * Of the nodes a batch touched, each with the version the batch's events brought its document
   * to, those whose current document the sink still needs (it may hold that version or a newer
   * one already). Without it, the sink gets every one.
   */
  documentsWanted?(latest: DocumentVersion[]): Promise<string[]>;
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
  /**
   * Asked before every publish: whether this process may still act as leader (its lease has not
   * lapsed on its own clock). When it says no, the relay stops without publishing.
   */
  mayPublish?: () => boolean;
  onError?: (err: unknown) => void;
  onPublished?: (count: number, lagMs: number) => void;
  /** Told of every batch read that holds events, before publishing it (and again on a retry). */
  onEventsRead?: () => void;
  /** The relay stopped by itself: its leadership term ended. */
  onStoppedByLeaseLoss?: (reason: string) => void;
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
  private readonly opts: Required<
    Omit<
      RelayOptions,
      'onError' | 'onPublished' | 'onEventsRead' | 'mayPublish' | 'onStoppedByLeaseLoss'
    >
  > &
    RelayOptions;
  /** Which start() the running loop belongs to: a loop of an earlier one ends at its next turn. */
  private generation = 0;

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

  /**
   * Starts relaying. With a fence (the leadership term it runs under), every cursor write is
   * refused once that term is over, and the relay then stops by itself.
   */
  start(fence?: LeaseFence): void {
    if (this.running) return;
    this.running = true;
    const generation = ++this.generation;
    // A loop that was stopped may still be finishing its batch: this one starts after it.
    const previous = this.loop ?? Promise.resolve();
    this.loop = previous.then(() => this.run(generation, fence));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    this.interruptSleep?.();
    const loop = this.loop;
    await loop;
    if (this.loop === loop) this.loop = null;
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
  private async saveCursor(cursor: LogCursor, idle: boolean, fence: LeaseFence | undefined) {
    if (!idle) {
      this.unsaved = cursor;
      if (Date.now() - this.savedAt < this.opts.checkpointEveryMs) return;
    }
    if (!this.unsaved) return;
    await storeCheckpoint(this.db, this.opts.name, this.unsaved, fence);
    this.unsaved = null;
    this.savedAt = Date.now();
  }

  /** One start()'s loop; `fence`: the leadership term it runs under. */
  private async run(generation: number, fence: LeaseFence | undefined) {
    const live = () => this.running && this.generation === generation;
    this.unsaved = null; // progress of an earlier term is not this term's to store
    let cursor: LogCursor | null = null;
    while (live()) {
      try {
        cursor ??= await readCheckpoint(this.db, this.opts.name);
        this.woken = false;
        const batch = await readMessagesBatch(this.db, cursor, this.opts.batchSize);
        if (!batch.events.length) {
          await this.saveCursor(cursor, true, fence);
          await this.sleep(this.opts.idlePollMs);
          continue;
        }
        if (this.opts.mayPublish && !this.opts.mayPublish())
          throw new LeaseLost(fence ?? { lease: this.opts.name, term: 'unknown' });
        this.opts.onEventsRead?.();
        const wanted = this.sink.documentsWanted
          ? await this.sink.documentsWanted(batch.latest)
          : batch.latest.map((l) => l.nodeId);
        const documents = wanted.length ? await readNodeDocuments(this.db, wanted) : [];
        await this.sink.publish(batch.events, documents);
        cursor = batch.cursor;
        await this.saveCursor(cursor, false, fence);
        const oldest = Date.parse(batch.events[0].recordedAt);
        this.opts.onPublished?.(batch.events.length, Date.now() - oldest);
      } catch (err) {
        if (err instanceof LeaseLost) {
          // Not leader any more: publish nothing more, store nothing more.
          if (this.generation === generation) this.running = false;
          this.unsaved = null;
          this.opts.onStoppedByLeaseLoss?.(err.message);
          break;
        }
        this.opts.onError?.(err);
        cursor = null; // re-read the stored cursor: publishing again is harmless, skipping is not
        // Not cut short by wake() (only by stop()): with NATS down, every write would otherwise spin the loop.
        await this.sleep(this.opts.retryMs, false);
      }
    }
    await this.saveCursor(cursor ?? LOG_START, true, fence).catch(() => undefined);
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
