import { formatOutput, renderTable } from './output-format';

const rows = [
  { nodeId: 'fhir_node', version: 3, updatedAt: null },
  { nodeId: 'n', version: 12, updatedAt: '2026-01-31' },
];
const columns = [
  { header: 'node', value: (r: (typeof rows)[number]) => r.nodeId },
  { header: 'version', value: (r: (typeof rows)[number]) => r.version },
  { header: 'updated', value: (r: (typeof rows)[number]) => r.updatedAt },
];

describe('output formats', () => {
  it('renders aligned columns with upper-case headers and - for no value', () => {
    expect(renderTable(rows, columns)).toBe(
      [
        'NODE       VERSION  UPDATED',
        'fhir_node  3        -',
        'n          12       2026-01-31',
        '',
      ].join('\n'),
    );
  });

  it('prints the data itself as JSON or YAML', () => {
    const table = { rows: (r: typeof rows) => r, columns };
    expect(JSON.parse(formatOutput(rows, 'json', table))).toEqual(rows);
    expect(formatOutput({ a: 1 }, 'yaml', { rows: () => [], columns: [] })).toBe('a: 1\n');
  });
});
