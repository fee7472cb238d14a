import { DomainError, invalid } from './errors';
import { ID_MAX_LENGTH } from './ids';
import { NodeDocument, StringMap } from './node-document';

/**
 * Every size and count limit of a node, in one place. Lengths are rules of the format (checked
 * before any regular expression looks at a key or value); counts are defaults an operator may
 * change (the control plane reads NODE_MAX_MODULES and NODE_MAX_KEYS). The largest message NATS
 * carries bounds a node's total size on top of these (the bus limit, checked when writing).
 */

/** A key of node properties or of a module's config (the JSON API and files alike). */
export const MAX_KEY_LENGTH = 200;
/** A value of a property, config key or requirement: 64 KiB, as the JSON API has always allowed. */
export const MAX_VALUE_LENGTH = 65536;
/** The longest key a properties file line can validly have: `module.<ID>.config.<key>`. */
export const MAX_FILE_KEY_LENGTH =
  'module.'.length + ID_MAX_LENGTH + '.config.'.length + MAX_KEY_LENGTH;

export interface NodeLimits {
  /** Modules of one node (NODE_MAX_MODULES). */
  maxModules: number;
  /** Keys of one map: a node's properties, or one module's config or requires (NODE_MAX_KEYS). */
  maxKeys: number;
}

export const DEFAULT_NODE_LIMITS: NodeLimits = { maxModules: 200, maxKeys: 1000 };
export const NO_NODE_LIMITS: NodeLimits = { maxModules: Infinity, maxKeys: Infinity };

/** More than a node may hold, or more than the bus carries: the API answers 413. */
export const tooLarge = (message: string) => new DomainError('too-large', message);

/** A long text as a message may quote it: its start, and how long it is when cut. */
export function quoted(text: string, max = 60): string {
  return text.length <= max ? `"${text}"` : `"${text.slice(0, max)}…" (${text.length} characters)`;
}

/**
 * Why a key and value of a properties file (or a first-start request) are too long to be a
 * node's, or null. Runs before any pattern looks at them, so that a long key cannot make one
 * backtrack; the message quotes only the start of a long key.
 */
export function entryLengthProblem(key: string, value: string): string | null {
  if (key.length > MAX_FILE_KEY_LENGTH)
    return `key ${quoted(key)} is too long: a key may have at most ${MAX_FILE_KEY_LENGTH} characters (module.<ID>.config.<key of at most ${MAX_KEY_LENGTH}>)`;
  if (value.length > MAX_VALUE_LENGTH)
    return `the value of key ${quoted(key)} has ${value.length} characters: a value may have at most ${MAX_VALUE_LENGTH} characters`;
  return null;
}

/** Throws when any key and value of `map` is too long (entryLengthProblem). */
export function checkEntryLengths(map: StringMap): void {
  for (const [key, value] of Object.entries(map)) {
    const problem = entryLengthProblem(key, value);
    if (problem) throw invalid(problem);
  }
}

function checkKeyCount(what: string, map: StringMap, before: StringMap | undefined, max: number) {
  if (map === before) return; // unchanged (evolve keeps the object): nothing to count
  const count = Object.keys(map).length;
  if (count > max && count > (before ? Object.keys(before).length : 0))
    throw tooLarge(
      `${what} would have ${count} keys: a map may have at most ${max} keys (NODE_MAX_KEYS)`,
    );
}

/**
 * Refuses a write that would leave a node with more modules, or a map with more keys, than
 * `limits` allow. Only growth is refused: a node already over a lowered limit may still shrink
 * or change in place. Maps the write did not touch are not counted.
 */
export function checkNodeCounts(
  current: NodeDocument | null,
  next: NodeDocument,
  limits: NodeLimits,
): void {
  const node = `node "${next.nodeId}"`;
  const modulesBefore = current?.modules.length ?? 0;
  if (next.modules.length > limits.maxModules && next.modules.length > modulesBefore)
    throw tooLarge(
      `${node} would have ${next.modules.length} modules: a node may have at most ${limits.maxModules} modules (NODE_MAX_MODULES)`,
    );
  if (!Number.isFinite(limits.maxKeys)) return;
  checkKeyCount(`properties of ${node}`, next.properties, current?.properties, limits.maxKeys);
  for (let i = 0; i < next.modules.length; i++) {
    const m = next.modules[i];
    if (current?.modules[i] === m) continue; // untouched (evolve keeps order and objects)
    const before = current?.modules.find((c) => c.moduleId === m.moduleId);
    const where = `modules.${m.moduleId}`;
    checkKeyCount(`${where}.config of ${node}`, m.config, before?.config, limits.maxKeys);
    checkKeyCount(`${where}.requires of ${node}`, m.requires, before?.requires, limits.maxKeys);
  }
}
