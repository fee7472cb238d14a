import { EventEmitter } from 'node:events';
import { ServerResponse } from 'node:http';
import { RecordedEvent } from '@plexus/domain';
import { WatchSession, WatchSessionOptions } from './watch-session';

/** A response that keeps what is written; `taken` plays the client reading it. */
class FakeResponse extends EventEmitter {
  chunks: string[] = [];
  writableLength = 0;
  writableEnded = false;
  writableFinished = false;
  write(chunk: string) {
    this.chunks.push(chunk);
    this.writableLength += Buffer.byteLength(chunk);
    return true;
  }
  end(chunk?: string) {
    if (chunk) this.write(chunk);
    this.writableEnded = true;
  }
  destroy() {}
  taken() {
    this.writableLength = 0;
  }
  ids() {
    return this.chunks.flatMap((c) => /^id: (\d+)/.exec(c)?.[1] ?? []);
  }
}

const event = (position: number, over: Partial<RecordedEvent> = {}): RecordedEvent => ({
  eventId: `e${position}`,
  nodeId: 'a',
  streamId: 'a',
  version: position,
  position: String(position),
  type: 'ModuleConfigChanged',
  data: { moduleId: 'web' },
  metadata: { actor: 'admin', correlationId: 'c' },
  recordedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

function session(
  resuming: boolean,
  over: Partial<WatchSessionOptions> = {},
  selectors = {},
): { s: WatchSession; res: FakeResponse; closed: jest.Mock } {
  const res = new FakeResponse();
  const closed = jest.fn();
  const s = new WatchSession(
    res as unknown as ServerResponse,
    selectors,
    {
      maxEvents: 1000,
      maxBytes: 1 << 20,
      keepAliveMs: 60_000,
      readWhole: async () => null,
      onClose: closed,
      ...over,
    },
    resuming,
  );
  return { s, res, closed };
}

describe('WatchSession', () => {
  afterEach(() => jest.useRealTimers());

  it('writes live events that match its filters, as they come', () => {
    const { s, res } = session(false, {}, { nodeId: 'a' });
    s.live(event(1));
    s.live(event(2, { nodeId: 'b' }));
    s.live(event(3));
    expect(res.ids()).toEqual(['1', '3']);
    s.close();
  });

  it('sends what both the replay and NATS deliver once, across the switch', async () => {
    const { s, res } = session(true);
    await s.replay(event(1));
    s.live(event(2)); // NATS already has it; waits for the replay
    await s.replay(event(2));
    await s.replay(event(3));
    expect(res.ids()).toEqual(['1', '2', '3']);
    s.replayDone();
    s.live(event(3)); // the relay was behind the replay
    s.live(event(4));
    s.live(event(2, { eventId: 'again' })); // after the overlap, NATS order rules
    expect(res.ids()).toEqual(['1', '2', '3', '4', '2']);
    s.close();
  });

  it('cuts off a client whose buffer passes the bound, with a last message saying why', () => {
    const { s, res, closed } = session(false, { maxEvents: 3 });
    for (let p = 1; p <= 3; p++) s.live(event(p));
    expect(closed).not.toHaveBeenCalled();
    s.live(event(4));
    expect(closed).toHaveBeenCalledTimes(1);
    expect(res.ids()).toEqual(['1', '2', '3']);
    expect(res.chunks[res.chunks.length - 1]).toMatch(
      /^event: error\ndata: \{"message":"this client fell behind: more than 3 events/,
    );
    expect(res.writableEnded).toBe(true);
    s.live(event(5));
    expect(res.ids()).toEqual(['1', '2', '3']);
  });

  it('keeps a client that takes what it is sent, one event larger than the bound included', () => {
    const { s, res, closed } = session(false, { maxEvents: 2, maxBytes: 1024 });
    for (let p = 1; p <= 10; p++) {
      s.live(event(p, { data: { moduleId: 'web', blob: 'x'.repeat(2000) } }));
      res.taken();
    }
    expect(closed).not.toHaveBeenCalled();
    expect(res.ids()).toHaveLength(10);
    s.close();
    expect(closed).toHaveBeenCalledTimes(1);
  });

  it('sends keep-alive comments and stops them when closed', () => {
    jest.useFakeTimers();
    const { s, res } = session(false, { keepAliveMs: 100 });
    jest.advanceTimersByTime(250);
    expect(res.chunks).toEqual([': keep-alive\n\n', ': keep-alive\n\n']);
    res.emit('close');
    jest.advanceTimersByTime(500);
    expect(res.chunks).toHaveLength(2);
    expect(s.isClosed).toBe(true);
  });

  it('reads an event NATS carried as a stub whole, keeping the order', async () => {
    const whole = event(2, { data: { moduleId: 'web', big: 'y'.repeat(10) } });
    const { s, res } = session(false, { readWhole: async () => whole });
    s.live(event(1));
    s.live({ ...event(2), data: {}, truncated: true } as RecordedEvent);
    s.live(event(3));
    expect(res.ids()).toEqual(['1']);
    await new Promise((r) => setImmediate(r));
    expect(res.ids()).toEqual(['1', '2', '3']);
    expect(res.chunks[1]).toContain('"big":"yyyyyyyyyy"');
    s.close();
  });
});
