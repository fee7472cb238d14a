import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** A column of a table: its header and how to read a row's cell. */
export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

const cell = (v: unknown): string => {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
};

/** Left-aligned columns separated by two spaces, headers upper-cased (like kubectl). */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => cell(c.value(row))));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** `data` as JSON, YAML, or a table of `rows(data)` with `columns`. */
export function formatOutput<D, T>(
  data: D,
  format: OutputFormat,
  table: { rows: (data: D) => readonly T[]; columns: readonly Column<T>[] },
): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (format === 'yaml') return stringify(data);
  return renderTable(table.rows(data), table.columns);
}

/** Key/value pairs, one a line, keys padded (a single object in table form). */
export function renderFields(fields: Record<string, unknown>): string {
  const width = Math.max(0, ...Object.keys(fields).map((k) => k.length));
  return Object.entries(fields)
    .map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${cell(v)}`)
    .join('\n')
    .concat('\n');
}
