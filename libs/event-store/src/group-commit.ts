export interface GroupCommitOptions {
  /** Batches sent to Postgres at once; a write arriving while all are busy joins the next batch. */
  maxInFlight: number;
  /** The most writes one batch carries. */
  maxBatch: number;
}

/** The caller gave up on a write before it was sent: it was not stored. */
export class WriteAbandoned extends Error {
  constructor() {
    super('the write was abandoned before it was sent to the database');
  }
}

/**
 * What a write's caller gives to say it gave up: the part of an AbortSignal used here (an
 * AbortSignal is one). The control plane passes a lighter one of its own per call.
 */
export interface AbandonSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: writes that arrive while earlier ones are on their way to the database are sent
 * together, as one batch, when a slot frees up. Nothing waits on a timer: with a free slot a write
 * goes at once (alone, at low load), and under load one statement and one commit serve many
 * writes instead of one each. A batch holds at most one write per key (a node), so the writes of
 * one batch never compete with each other; a later write of the same key waits for the next batch.
 *
 * `flush` answers each write of a batch in order: its result, or an Error for that write alone.
 * If `flush` throws, every write of the batch fails with that error.
 */
export class GroupCommit<T, R> {
  private readonly waiting: Waiting<T, R>[] = [];
  private inFlight = 0;

  constructor(
    private readonly keyOf: (item: T) => string,
    private readonly flush: (items: T[]) => Promise<(R | Error)[]>,
    private readonly options: GroupCommitOptions,
  ) {}

  /**
   * Queues a write. If `signal` aborts while the write is still waiting (its caller gave up, e.g.
   * answered 503 on a timeout), it is dropped and never sent; once sent, it runs to its outcome.
   */
  submit(item: T, signal?: AbandonSignal): Promise<R> {
    if (signal?.aborted) return Promise.reject(new WriteAbandoned());
    return new Promise<R>((resolve, reject) => {
      const entry = { item, resolve, reject };
      this.waiting.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.waiting.indexOf(entry);
          if (at < 0) return; // already on its way
          this.waiting.splice(at, 1);
          reject(new WriteAbandoned());
        },
        { once: true },
      );
      this.pump();
    });
  }

  private pump() {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length) {
      const batch = this.takeBatch();
      this.inFlight++;
      this.flush(batch.map((w) => w.item))
        .then(
          (results) =>
            batch.forEach((w, i) => {
              const result = results[i];
              if (result instanceof Error) w.reject(result);
              else w.resolve(result);
            }),
          (err) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }

  /** The oldest waiting writes, one per key, up to maxBatch; the rest keep their place. */
  private takeBatch(): Waiting<T, R>[] {
    const keys = new Set<string>();
    const batch: Waiting<T, R>[] = [];
    const rest: Waiting<T, R>[] = [];
    for (const w of this.waiting) {
      const key = this.keyOf(w.item);
      if (batch.length < this.options.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(w);
      } else rest.push(w);
    }
    this.waiting.splice(0, this.waiting.length, ...rest);
    return batch;
  }
}
