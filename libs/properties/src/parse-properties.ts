import { getProperties } from 'properties-file';

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

const isBlankChar = (code: number) => code === 0x20 || code === 0x09 || code === 0x0c;

function firstNonBlank(line: string): number {
  let i = 0;
  while (i < line.length && isBlankChar(line.charCodeAt(i))) i++;
  return i;
}

/** A line continues on the next one when it ends in an odd number of backslashes. */
function continues(line: string): boolean {
  let count = 0;
  for (let i = line.length - 1; i >= 0 && line.charCodeAt(i) === 0x5c; i--) count++;
  return count % 2 === 1;
}

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

/**
 * Parses Java `.properties` text (Smile CDR's node file format) with the `properties-file`
 * package: `=`, `:` or white space between key and value, blanks around the separator ignored,
 * `#` and `!` comment lines, backslash continuations and escapes (`\uXXXX`, `\t`, `\n`, ...),
 * UTF-8. Each logical entry is handed to the library on its own so that every key carries its
 * line number and a malformed entry is refused naming its line.
 */
export function parsePropertiesDetailed(
  input: string | Uint8Array,
  options: ParseOptions = {},
): ParsedProperties {
  const { source } = options;
  let text = decode(input, source);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(LINE_BREAK);

  const entries: PropertyEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i];
    const start = firstNonBlank(first);
    if (start >= first.length) continue; // blank line
    const lead = first.charCodeAt(start);
    if (lead === 0x23 || lead === 0x21) continue; // # or ! comment (a trailing \ does not continue it)

    const startLine = i + 1;
    const chunk = [first];
    while (continues(lines[i]) && i + 1 < lines.length) chunk.push(lines[++i]);
    const endLine = i + 1;

    let parsed: Record<string, string>;
    try {
      parsed = getProperties(chunk.join('\n'));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const snippet = /'(.*)'/.exec(message)?.[1];
      const offset = snippet ? chunk.findIndex((l) => l.includes(snippet)) : -1;
      const hint = /unicode/i.test(message) ? ' (a \\u escape takes exactly four hex digits)' : '';
      throw new PropertiesSyntaxError(`${message}${hint}`, startLine + Math.max(offset, 0), source);
    }
    const found = Object.entries(parsed);
    if (found.length !== 1) {
      throw new PropertiesSyntaxError(
        `cannot read the key of "${first.trim().slice(0, 60)}"`,
        startLine,
        source,
      );
    }
    const [key, value] = found[0];
    if (key === '') throw new PropertiesSyntaxError('the key is empty', startLine, source);
    entries.push({ key, value, line: startLine, endLine });
  }

  const values: Record<string, string> = {};
  const linesByKey = new Map<string, number[]>();
  for (const e of entries) {
    values[e.key] = e.value;
    linesByKey.set(e.key, [...(linesByKey.get(e.key) ?? []), e.line]);
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
