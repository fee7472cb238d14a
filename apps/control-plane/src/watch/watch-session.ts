import { ServerResponse } from 'node:http';
import { RecordedEvent } from '@plexus/domain';
import { EventSelectors } from '../events/events-query';
import { BufferBound, ClientBuffer, overBound } from './client-buffer';
import { errorFrame, eventFrame, KEEP_ALIVE_FRAME } from './sse-frames';
import { matchesSelectors } from './watch-query';

export interface WatchSessionOptions extends BufferBound {
  keepAliveMs: number;
  /** How long a cut-off client has to take its last message before its socket is destroyed. */
  closeGraceMs?: number;
  /** Reads the whole event when NATS carried only a stub of it (too large for the bus). */
  readWhole: (eventId: string) => Promise<RecordedEvent | null>;
  /** Called once when the session ends, for whatever reason: stop the consumer. */
  onClose: () => void;
}

/** A published event, or the stub the relay publishes in place of one too large for NATS. */
type BusEvent = RecordedEvent & { truncated?: true };

/**
 * One GET /watch client: its filters, its buffer and its place in the log. Events from NATS come
 * in through `live` and are written at once, never awaited, so that a client that does not read
 * holds up nothing but itself; when its buffer passes the bound it is cut off with a last
 * `event: error` message. While a resumed session replays from Postgres, live events wait in a
 * queue (the same bound applies) and are then written without those the replay already sent.
 */
export class WatchSession {
  private readonly buffer = new ClientBuffer();
  /** Live events not written yet: during the replay, or behind a stub being read whole. */
  private readonly queue: BusEvent[] = [];
  private replaying: boolean;
  /** Positions the replay sent that NATS may still deliver (it ends where they overlap). */
  private replayed: Set<string> | null = null;
  private reading = false;
  private closed = false;
  private readonly keepAlive: NodeJS.Timeout;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly res: ServerResponse,
    private readonly selectors: EventSelectors,
    private readonly options: WatchSessionOptions,
    resuming: boolean,
  ) {
    this.replaying = resuming;
    this.keepAlive = setInterval(() => this.write(KEEP_ALIVE_FRAME, false), options.keepAliveMs);
    res.on('close', () => this.close());
    res.on('error', () => this.close());
  }

  get isClosed() {
    return this.closed;
  }

  /** An event from NATS, in the order of the events stream. */
  live(event: BusEvent) {
    if (this.closed || !matchesSelectors(event, this.selectors)) return;
    this.queue.push(event);
    if (this.queue.length > this.options.maxEvents)
      return this.cutOff(overBound(this.queue.length, 0, this.options)!);
    this.pump();
  }

  /** An event of the replay from Postgres; resolves when the client's buffer has room again. */
  async replay(event: RecordedEvent): Promise<void> {
    if (this.closed || !matchesSelectors(event, this.selectors)) return;
    (this.replayed ??= new Set()).add(event.position);
    this.write(eventFrame(event), true);
    if (this.res.writableLength > this.options.maxBytes) await this.drained();
  }

  /** The replay has caught up: write what NATS delivered meanwhile, then every event as it comes. */
  replayDone() {
    this.replaying = false;
    this.pump();
  }

  /** Ends the stream with a last message saying why. */
  end(reason: string) {
    this.cutOff(reason);
  }

  private pump() {
    while (!this.replaying && !this.reading && !this.closed && this.queue.length) {
      const event = this.queue[0];
      if (this.replayed) {
        if (this.replayed.has(event.position)) {
          this.queue.shift();
          continue;
        }
        this.replayed = null; // past the overlap: NATS now brings only what the replay did not
      }
      if (event.truncated) return void this.readWhole(event);
      this.queue.shift();
      if (!this.write(eventFrame(event), true)) return;
    }
  }

  private async readWhole(stub: BusEvent) {
    this.reading = true;
    try {
      const whole = await this.options.readWhole(stub.eventId);
      this.reading = false;
      if (this.queue[0] === stub) this.queue[0] = whole ?? { ...stub };
      if (this.queue[0].truncated) delete this.queue[0].truncated; // gone from Postgres: the stub
      this.pump();
    } catch (err) {
      this.reading = false;
      this.cutOff(
        `could not read event ${stub.eventId}: ${(err as Error).message}; reconnect with Last-Event-ID to resume`,
      );
    }
  }

  /**
   * Writes a frame unless what the client has not taken yet is over the bound (then it is cut
   * off; false). The check comes before the write, so that one event larger than the bound still
   * reaches a client that keeps up.
   */
  private write(frame: string, isEvent: boolean): boolean {
    if (this.closed) return false;
    const bytes = this.res.writableLength;
    const events = this.buffer.eventsBuffered(bytes) + (isEvent ? 1 : 0);
    const why = overBound(events, bytes, this.options);
    if (why && !this.replaying) {
      this.cutOff(why);
      return false;
    }
    this.res.write(frame);
    this.buffer.wrote(Buffer.byteLength(frame), isEvent);
    return true;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      if (this.closed) return resolve();
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  private cutOff(reason: string) {
    if (this.closed) return;
    this.res.end(errorFrame(reason));
    this.close();
    // The last message waits behind what the client has not read; it has a while to take it.
    if (!this.res.writableFinished) {
      this.graceTimer = setTimeout(() => this.res.destroy(), this.options.closeGraceMs ?? 10_000);
      this.graceTimer.unref();
      this.res.once('close', () => this.graceTimer && clearTimeout(this.graceTimer));
    }
  }

  /** Stops everything this session holds; safe to call more than once. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.queue.length = 0;
    this.replayed = null;
    if (!this.res.writableEnded) this.res.end();
    this.options.onClose();
  }
}
