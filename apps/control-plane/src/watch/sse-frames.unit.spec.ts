import { RecordedEvent } from '@plexus/domain';
import { errorFrame, eventFrame } from './sse-frames';

describe('SSE frames', () => {
  it('gives an event its position as id, its type as event and itself as one data line', () => {
    const e: RecordedEvent = {
      eventId: 'e',
      nodeId: 'n',
      streamId: 'n',
      version: 1,
      position: '7',
      type: 'NodeCreated',
      data: { text: 'two\nlines' },
      metadata: { actor: 'admin', correlationId: 'c' },
      recordedAt: '2026-01-01T00:00:00.000Z',
    };
    const frame = eventFrame(e);
    expect(frame.endsWith('\n\n')).toBe(true);
    const lines = frame.slice(0, -2).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('id: 7');
    expect(lines[1]).toBe('event: NodeCreated');
    expect(JSON.parse(lines[2].slice('data: '.length))).toEqual(e);
  });

  it('ends a stream with an error message saying why', () => {
    expect(errorFrame('too slow')).toBe('event: error\ndata: {"message":"too slow"}\n\n');
  });
});
