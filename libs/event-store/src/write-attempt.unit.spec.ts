import { emptyNode } from '@plexus/domain';
import { MAX_LOCK_ATTEMPTS, nextStep, WriteAttempt, WriteMode } from './write-attempt';

const result = { document: emptyNode('n'), appended: 1, eventTypes: ['NodeCreated'] };
const committed: WriteAttempt = { kind: 'committed', result };
const stale: WriteAttempt = { kind: 'stale', expectedVersion: 4, currentVersion: 7 };
const conflict: WriteAttempt = { kind: 'conflict', expectedVersion: 0 };
const undecided: WriteAttempt = { kind: 'undecided' };
const modes: WriteMode[] = ['cached', 'read', 'lock'];

describe('nextStep: what follows an attempt at a node command', () => {
  it('is done once an attempt committed, in any mode, with or without If-Match', () => {
    for (const mode of modes)
      for (const expected of [undefined, 4])
        expect(nextStep(mode, committed, expected, 1)).toEqual({ kind: 'done', result });
  });

  it('never answers from the cache: every other outcome there reads the stored document', () => {
    for (const attempt of [stale, conflict, undecided])
      for (const expected of [undefined, 4])
        expect(nextStep('cached', attempt, expected, 0)).toEqual({ kind: 'attempt', mode: 'read' });
  });

  it('fails a write with If-Match that finds the node elsewhere, naming the version it is at', () => {
    for (const mode of ['read', 'lock'] as const)
      expect(nextStep(mode, stale, 4, 1)).toEqual({
        kind: 'precondition-failed',
        expected: 4,
        actual: 7,
      });
  });

  it('takes the locked path after a lost race without If-Match, or a creation race with it', () => {
    expect(nextStep('read', stale, undefined, 0)).toEqual({ kind: 'attempt', mode: 'lock' });
    expect(nextStep('read', conflict, undefined, 0)).toEqual({ kind: 'attempt', mode: 'lock' });
    // The unique key names no version: the locked read finds the one the 412 names.
    expect(nextStep('read', conflict, 0, 0)).toEqual({ kind: 'attempt', mode: 'lock' });
    // The persistence guard needs the row lock.
    expect(nextStep('read', undecided, undefined, 0)).toEqual({ kind: 'attempt', mode: 'lock' });
  });

  it('retries the locked path a few times, then gives up naming the version it wrote against', () => {
    for (let n = 1; n < MAX_LOCK_ATTEMPTS; n++)
      expect(nextStep('lock', conflict, undefined, n)).toEqual({ kind: 'attempt', mode: 'lock' });
    expect(nextStep('lock', conflict, undefined, MAX_LOCK_ATTEMPTS)).toEqual({
      kind: 'give-up',
      expectedVersion: 0,
    });
    expect(nextStep('lock', stale, undefined, MAX_LOCK_ATTEMPTS)).toEqual({
      kind: 'give-up',
      expectedVersion: 4,
    });
  });
});
