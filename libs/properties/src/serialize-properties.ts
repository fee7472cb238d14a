import { escapeKey, escapeValue } from 'properties-file/escape';

export interface SerializeOptions {
  /** Comment lines written first (each prefixed with `# `). */
  header?: string | string[];
  /**
   * Writes a blank line whenever this label changes between consecutive keys. The default groups
   * by `module.<id>` for module keys and by the first dotted segment (`node`) for the others; `false` writes none.
   */
  groupBy?: ((key: string) => string) | false;
  /** Line separator; `\n` unless given. */
  eol?: '\n' | '\r\n';
}

/**
 * What a UTF-8 text file should not hold as itself, written `\\uXXXX` as before: control
 * characters (the package escapes only blanks and line breaks; raw ones would reach an
 * operator's terminal) and lone surrogates (they have no UTF-8 form).
 */
const UNWRITABLE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const hex4 = (ch: string) => `\\u${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The package escapes `=`, `:`, `#` and `!` in values too, where they are literal after the
 * separator; written as themselves, values read as in Smile CDR's own files (`jdbc:postgresql://`).
 * Every backslash the package writes starts an escape or is the second of a doubled one, and
 * these marks never stand unescaped in its output, so this matches exactly their escapes.
 */
const MARK_ESCAPE = /\\([=:#!])/g;

/** A key as written in a `.properties` file: blanks, separators and comment marks escaped. */
export const escapePropertyKey = (key: string) => escapeKey(key).replace(UNWRITABLE, hex4);

/** A value as written in a `.properties` file: leading blanks, backslashes, line breaks escaped. */
export const escapePropertyValue = (value: string) =>
  escapeValue(value).replace(MARK_ESCAPE, '$1').replace(UNWRITABLE, hex4);

/** `module.<id>` for module keys, the first dotted segment (`node`, ...) for the others. */
const defaultGroup = (key: string) =>
  key
    .split('.')
    .slice(0, key.startsWith('module.') ? 2 : 1)
    .join('.');

/**
 * Writes keys and values as `.properties` text (UTF-8, `key=value`, in the order given) that
 * parseProperties reads back key for key.
 */
export function serializeProperties(
  entries: Record<string, string> | Iterable<readonly [string, string]>,
  options: SerializeOptions = {},
): string {
  const eol = options.eol ?? '\n';
  const groupOf = options.groupBy === false ? null : (options.groupBy ?? defaultGroup);
  const pairs = Symbol.iterator in entries ? [...entries] : Object.entries(entries);
  const lines: string[] = [];
  const header = options.header === undefined ? [] : [options.header].flat();
  for (const text of header) {
    for (const line of text.split(/\r\n|\r|\n/)) lines.push(line ? `# ${line}` : '#');
  }
  if (header.length && pairs.length) lines.push('');
  let group: string | null = null;
  for (const [key, value] of pairs) {
    if (groupOf) {
      const g = groupOf(key);
      if (group !== null && g !== group) lines.push('');
      group = g;
    }
    lines.push(`${escapePropertyKey(key)}=${escapePropertyValue(value)}`);
  }
  return lines.length ? lines.join(eol) + eol : '';
}
