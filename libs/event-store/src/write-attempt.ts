import type { CommandResult } from './node-command-handler';

/**
 * How NodeCommandHandler tries a command: on the document it cached after its last write of the
 * node, on a plain read (both through the group commit), or in a transaction that locks the
 * node's row first.
 */
export type WriteMode = 'cached' | 'read' | 'lock';

/** How one attempt at a command ended. */
export type WriteAttempt =
  /** Appended (or nothing to append: `result.appended` is 0). */
  | { kind: 'committed'; result: CommandResult }
  /** The node is at `currentVersion` (read from the database), not at `expectedVersion`. */
  | { kind: 'stale'; expectedVersion: number; currentVersion: number }
  /** Another writer created the node meanwhile: the unique key said so, not which version. */
  | { kind: 'conflict'; expectedVersion: number }
  /** This mode cannot decide the command (cache not trusted, or the guard needs the row lock). */
  | { kind: 'undecided' };

export type NextStep =
  | { kind: 'done'; result: CommandResult }
  | { kind: 'attempt'; mode: 'read' | 'lock' }
  /** 412: If-Match named `expected`; the node is at `actual`. */
  | { kind: 'precondition-failed'; expected: number; actual: number }
  /** Lost every locked attempt to writers creating the node. */
  | { kind: 'give-up'; expectedVersion: number };

/** Locked attempts before giving up (only creations of a new node race under the row lock). */
export const MAX_LOCK_ATTEMPTS = 5;

/**
 * What follows an attempt in `mode` that ended in `attempt`. The cache is never trusted with a
 * refusal; a write with If-Match that finds the node elsewhere fails naming where it is; a write
 * without it that lost a race takes the locked path, where every writer gets its turn.
 * `lockAttempts`: locked attempts made so far.
 */
export function nextStep(
  mode: WriteMode,
  attempt: WriteAttempt,
  expectedVersion: number | undefined,
  lockAttempts: number,
): NextStep {
  if (attempt.kind === 'committed') return { kind: 'done', result: attempt.result };
  if (mode === 'cached') return { kind: 'attempt', mode: 'read' };
  if (attempt.kind === 'stale' && expectedVersion !== undefined)
    return {
      kind: 'precondition-failed',
      expected: expectedVersion,
      actual: attempt.currentVersion,
    };
  if (mode === 'read' || lockAttempts < MAX_LOCK_ATTEMPTS) return { kind: 'attempt', mode: 'lock' };
  return {
    kind: 'give-up',
    expectedVersion:
      attempt.kind === 'undecided' ? (expectedVersion ?? 0) : attempt.expectedVersion,
  };
}
