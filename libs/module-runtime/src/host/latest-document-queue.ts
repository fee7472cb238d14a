import { errorText } from '@plexus/common';
import { ModuleLogger } from '../module-type';

/**
 * Applies documents one at a time; while one is being applied, only the newest of those that
 * arrive waits (level-triggered, coalescing), and one not newer than what is applied, being
 * applied or waiting is ignored.
 */
export class LatestDocumentQueue<D extends { version: number }> {
  private pending: D | null = null;
  private inFlight: D | null = null;
  private loop: Promise<void> | null = null;
  private closedNow = false;

  constructor(
    /** Applies one document; throws only on a bug (logged, the queue goes on). */
    private readonly apply: (doc: D) => Promise<void>,
    /** The document applied last (the host records it as it settles). */
    private readonly applied: () => D | null,
    private readonly logger: ModuleLogger,
  ) {}

  get closed(): boolean {
    return this.closedNow;
  }

  /** Queues a document; false when it is ignored (not newer, or the queue is closed). */
  submit(doc: D): boolean {
    if (this.closedNow) return false;
    const newest = Math.max(
      this.applied()?.version ?? 0,
      this.inFlight?.version ?? 0,
      this.pending?.version ?? 0,
    );
    if (doc.version <= newest) return false;
    if (this.pending)
      this.logger.log('node document superseded before it was applied', {
        skippedVersion: this.pending.version,
        version: doc.version,
      });
    this.pending = doc;
    this.kick();
    return true;
  }

  /**
   * Applies the document being applied (or else the one applied) once more, unless one waits
   * already. False when there is none.
   */
  applyAgain(): boolean {
    if (this.pending) return true;
    const current = this.inFlight ?? this.applied();
    if (!current) return false;
    this.pending = current;
    this.kick();
    return true;
  }

  /** Resolves once nothing is being applied or waits. */
  async whenIdle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Drops what waits; later documents are ignored. What is being applied finishes. */
  close(): void {
    this.closedNow = true;
    this.pending = null;
  }

  /** Starts the loop unless it runs; one queued while it was finishing starts it again. */
  private kick() {
    if (this.loop) return;
    this.loop = this.drain().finally(() => {
      this.loop = null;
      if (this.pending && !this.closedNow) this.kick();
    });
  }

  private async drain() {
    while (this.pending && !this.closedNow) {
      const doc = this.pending;
      this.pending = null;
      this.inFlight = doc;
      try {
        await this.apply(doc);
      } catch (err) {
        // Only a bug gets here (module errors are caught per step); keep the process up.
        this.logger.error('applying the node document failed', {
          version: doc.version,
          error: errorText(err),
        });
      } finally {
        this.inFlight = null;
      }
    }
  }
}
