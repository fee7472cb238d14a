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

const hex4 = (code: number) => `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** Characters that cannot appear as themselves: control characters, lone surrogates, the BOM. */
function escapeSpecial(ch: string, code: number): string | null {
  switch (ch) {
    case '\\':
      return '\\\\';
    case '\t':
      return '\\t';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\f':
      return '\\f';
  }
  if (code < 0x20 || code === 0x7f || code === 0xfeff) return hex4(code);
  return null;
}

function escape(text: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const code = text.charCodeAt(i);
    // Surrogate pairs pass through (UTF-8 output); a lone surrogate has no UTF-8 form.
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += ch + text[i + 1];
        i++;
      } else out += hex4(code);
      continue;
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      out += hex4(code);
      continue;
    }
    const special = escapeSpecial(ch, code);
    if (special) out += special;
    else if (ch === ' ' && (isKey || i === 0)) out += '\\ ';
    else if (isKey && (ch === '=' || ch === ':' || ch === '#' || ch === '!')) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/** A key as written in a `.properties` file: blanks, separators and comment marks escaped. */
export const escapePropertyKey = (key: string) => escape(key, true);

/** A value as written in a `.properties` file: leading blanks, backslashes, line breaks escaped. */
export const escapePropertyValue = (value: string) => escape(value, false);

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
