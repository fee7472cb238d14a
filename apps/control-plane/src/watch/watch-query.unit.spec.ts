import { RecordedEvent } from '@plexus/domain';
import { matchesSelectors, parseWatchQuery } from './watch-query';

const event = (over: Partial<RecordedEvent> = {}): RecordedEvent => ({
  eventId: '00000000-0000-0000-0000-000000000001',
  nodeId: 'node_a',
  streamId: 'node_a',
  version: 3,
  position: '42',
  type: 'ModuleConfigChanged',
  data: { moduleId: 'web' },
  metadata: { actor: 'admin', correlationId: 'c-1' },
  recordedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('parseWatchQuery', () => {
  it('takes the filters GET /events takes, types repeated or comma-separated', () => {
    const q = parseWatchQuery(
      { nodeId: 'node_a', type: ['ProcessJoined,ProcessLeft', 'ProcessLost'], actor: 'admin' },
      undefined,
    );
    expect(q.selectors).toEqual({
      nodeId: 'node_a',
      moduleId: undefined,
      types: ['ProcessJoined', 'ProcessLeft', 'ProcessLost'],
      actor: 'admin',
      correlationId: undefined,
    });
    expect(q.after).toBeUndefined();
  });

  it('refuses a parameter of GET /events that a watch has no use for, naming it', () => {
    expect(() => parseWatchQuery({ limit: '5' }, undefined)).toThrow(
      /limit: not a known parameter/,
    );
    expect(() => parseWatchQuery({ nodeId: 'bad id' }, undefined)).toThrow(/nodeId/);
    expect(() => parseWatchQuery({ type: 'Nope' }, undefined)).toThrow(/type must be/);
  });

  it('resumes after ?after= or Last-Event-ID, the header winning', () => {
    expect(parseWatchQuery({ after: '17' }, undefined).after).toBe('17');
    expect(parseWatchQuery({ after: '17' }, '20').after).toBe('20');
    expect(parseWatchQuery({}, '0').after).toBe('0');
    expect(parseWatchQuery({}, '').after).toBeUndefined();
  });

  it('refuses a position that is not a whole number, naming the field', () => {
    expect(() => parseWatchQuery({ after: 'abc' }, undefined)).toThrow(/^after must be/);
    expect(() => parseWatchQuery({}, '-1')).toThrow(/^Last-Event-ID must be/);
    expect(() => parseWatchQuery({ after: ['1', '2'] }, undefined)).toThrow(/^after must be/);
  });
});

describe('matchesSelectors', () => {
  it('passes an event that meets every filter given', () => {
    expect(matchesSelectors(event(), {})).toBe(true);
    expect(
      matchesSelectors(event(), {
        nodeId: 'node_a',
        moduleId: 'web',
        types: ['ModuleAdded', 'ModuleConfigChanged'],
        actor: 'admin',
        correlationId: 'c-1',
      }),
    ).toBe(true);
  });

  it('drops an event that misses any one of them', () => {
    expect(matchesSelectors(event(), { nodeId: 'node_b' })).toBe(false);
    expect(matchesSelectors(event(), { moduleId: 'other' })).toBe(false);
    expect(matchesSelectors(event(), { types: ['ProcessJoined'] })).toBe(false);
    expect(matchesSelectors(event(), { actor: 'someone' })).toBe(false);
    expect(matchesSelectors(event(), { correlationId: 'c-2' })).toBe(false);
    expect(matchesSelectors(event({ data: {} }), { moduleId: 'web' })).toBe(false);
  });
});
