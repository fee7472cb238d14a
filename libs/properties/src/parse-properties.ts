import { Properties } from 'properties-file/parser';

/** Why a properties file was refused; `line` is 1-based (null when no single line is to blame). */
export class PropertiesSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number | null,
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}${line !== null ? `line ${line}: ` : ''}${message}`);
    this.name = 'PropertiesSyntaxError';
  }
}

/** One key of the file, where it was written. */
export interface PropertyEntry {
  key: string;
  value: string;
  /** First and last physical line (they differ when the entry uses backslash continuations). */
  line: number;
  endLine: number;
}

export interface ParsedProperties {
  /** Flat key -> value map; a repeated key keeps its last value (as Java does). */
  values: Record<string, string>;
  /** Every entry in file order, repeats included. */
  entries: PropertyEntry[];
  /** Keys given more than once, with the lines of each occurrence. */
  duplicates: { key: string; lines: number[] }[];
}

export interface ParseOptions {
  /** File name (or other label) to prefix error messages with. */
  source?: string;
}

const LINE_BREAK = /\r\n|\r|\n/;

/** Decodes UTF-8 strictly, naming the line of the first byte sequence that is not UTF-8. */
function decode(input: string | Uint8Array, source?: string): string {
  if (typeof input === 'string') return input;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    const lenient = new TextDecoder('utf-8').decode(input);
    const at = lenient.indexOf('\uFFFD');
    const line = at < 0 ? null : lenient.slice(0, at).split(LINE_BREAK).length;
    throw new PropertiesSyntaxError('the file is not valid UTF-8', line, source);
  }
}

const parses = (text: string) => {
  try {
    new Properties(text);
    return true;
  } catch {
    return false;
  }
};

/**
 * The package names a malformed escape but not its line. Only on that error path: the shortest
 * prefix of lines that fails to parse ends at the line that holds it (a binary search, so a large
 * file costs a few parses more, and a valid one none).
 */
function syntaxError(text: string, err: unknown, source?: string): PropertiesSyntaxError {
  const message = err instanceof Error ? err.message : String(err);
  const hint = /unicode/i.test(message) ? ' (a \\u escape takes exactly four hex digits)' : '';
  const lines = text.split(LINE_BREAK);
  let [ok, failing] = [0, lines.length];
  while (failing - ok > 1) {
    const mid = (ok + failing) >> 1;
    if (parses(lines.slice(0, mid).join('\n'))) ok = mid;
    else failing = mid;
  }
  return new PropertiesSyntaxError(`${message}${hint}`, failing, source);
}

/**
 * Parses Java `.properties` text (Smile CDR's node file format) with the `properties-file`
 * package's lossless parser: `=`, `:` or white space between key and value, blanks around the
 * separator ignored, `#` and `!` comment lines, backslash continuations and escapes (`\uXXXX`,
 * `\t`, `\n`, ...), a byte order mark skipped. Bytes must be UTF-8 (checked here: the package
 * would decode them leniently).
 */
export function parsePropertiesDetailed(
  input: string | Uint8Array,
  options: ParseOptions = {},
): ParsedProperties {
  const { source } = options;
  const text = decode(input, source);
  let file: Properties;
  try {
    file = new Properties(text);
  } catch (err) {
    throw syntaxError(text, err, source);
  }

  const values: Record<string, string> = {};
  const entries: PropertyEntry[] = [];
  // Not the package's getKeyCollisions: it collects into a plain object, so a key named like an
  // Object member (`toString`, `constructor`) throws, and numeric keys come out of file order.
  const linesByKey = new Map<string, number[]>();
  for (const p of file.getProperties()) {
    const line = p.startingLineNumber;
    if (p.key === '') throw new PropertiesSyntaxError('the key is empty', line, source);
    entries.push({ key: p.key, value: p.value, line, endLine: p.endingLineNumber });
    values[p.key] = p.value;
    const at = linesByKey.get(p.key);
    if (at) at.push(line);
    else linesByKey.set(p.key, [line]);
  }
  const duplicates = [...linesByKey]
    .filter(([, at]) => at.length > 1)
    .map(([key, at]) => ({ key, lines: at }));
  return { values, entries, duplicates };
}

/** Parses `.properties` text into a flat key -> value map (see parsePropertiesDetailed). */
export function parseProperties(
  input: string | Uint8Array,
  options: ParseOptions = {},
): Record<string, string> {
  return parsePropertiesDetailed(input, options).values;
}
