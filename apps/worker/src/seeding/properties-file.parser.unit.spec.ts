import { StartupError } from '../startup.error';
import { parseNodePropertiesFile } from './properties-file.parser';

const parse = (lines: string[], nodeId = 'n', onDuplicate?: (k: string, l: number[]) => void) =>
  parseNodePropertiesFile(Buffer.from(lines.join('\n')), 'node.properties', nodeId, onDuplicate);

const refusal = (lines: string[], nodeId = 'n') => {
  try {
    parse(lines, nodeId);
  } catch (err) {
    expect(err).toBeInstanceOf(StartupError);
    return (err as StartupError).message;
  }
  throw new Error('expected a StartupError');
};

describe('parseNodePropertiesFile', () => {
  it('reads the node and fills in node.id from --node-id when the file has none', () => {
    const file = parse(['module.web.type = http-endpoint', 'module.web.config.port = 8000']);
    expect(file.flat).toEqual({
      'module.web.type': 'http-endpoint',
      'module.web.config.port': '8000',
      'node.id': 'n',
    });
    expect(file.node.modules.map((m) => m.moduleId)).toEqual(['web']);
  });

  it('tells of keys given more than once; the last one counts', () => {
    const duplicates: [string, number[]][] = [];
    const file = parse(['node.id = n', 'node.a = 1', 'node.a = 2'], 'n', (key, lines) =>
      duplicates.push([key, lines]),
    );
    expect(duplicates).toEqual([['node.a', [2, 3]]]);
    expect(file.flat['node.a']).toBe('2');
  });

  it('refuses a node.id other than --node-id', () => {
    expect(refusal(['node.id = other'], 'n')).toBe(
      'node.id in node.properties is "other" but --node-id is "n"',
    );
  });

  it('names the line of the key the domain complains about', () => {
    expect(
      refusal(['# comment', 'module.web.type = http-endpoint', 'module.web.bogus = 1']),
    ).toMatch(/^node\.properties is not a valid node properties file: line 3: /);
  });

  it('names the line of a malformed escape', () => {
    expect(refusal(['node.id=n', 'module.web.config.message=\\u00zz'])).toMatch(
      /^node\.properties is not a valid node properties file: line 2: malformed escaped unicode/,
    );
  });
});
