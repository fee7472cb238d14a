/**
 * What one watch client has not taken yet: the events and bytes written to its response that are
 * still in the response's buffer. Node reports only the bytes (`writableLength`); this keeps the
 * end offset of each event written, so it can tell how many whole or partial events they hold.
 */
export class ClientBuffer {
  private written = 0;
  /** End offsets (in bytes written) of events that may still be buffered, oldest first. */
  private readonly ends: number[] = [];
  private head = 0;

  /** Records a frame of `bytes` written; `isEvent` for an event (not a comment). */
  wrote(bytes: number, isEvent: boolean) {
    this.written += bytes;
    if (isEvent) this.ends.push(this.written);
  }

  /** Events still buffered when `buffered` bytes are (the response's writableLength). */
  eventsBuffered(buffered: number): number {
    const flushed = this.written - buffered;
    while (this.head < this.ends.length && this.ends[this.head] <= flushed) this.head++;
    if (this.head > 1024 && this.head * 2 > this.ends.length) {
      this.ends.splice(0, this.head);
      this.head = 0;
    }
    return this.ends.length - this.head;
  }
}

export interface BufferBound {
  maxEvents: number;
  maxBytes: number;
}

/** Why a client's buffer is over its bound, or null while it is within. */
export function overBound(events: number, bytes: number, bound: BufferBound): string | null {
  if (events > bound.maxEvents)
    return `this client fell behind: more than ${bound.maxEvents} events waited for it to read; reconnect with Last-Event-ID to resume`;
  if (bytes > bound.maxBytes)
    return `this client fell behind: more than ${bound.maxBytes} bytes waited for it to read; reconnect with Last-Event-ID to resume`;
  return null;
}
