import { getProperties } from 'properties-file';
import { nodeFromProperties } from '@plexus/domain';
import {
  escapePropertyKey,
  escapePropertyValue,
  parseProperties,
  parsePropertiesDetailed,
  PropertiesSyntaxError,
  serializeProperties,
} from './index';

/** A node file the way real ones look: long, commented, padded, every separator style. */
const FHIR_NODE = [
  '################################################################################',
  '# Node Configuration: fhir_node',
  '#   exported from Smile CDR, edited by hand \\',
  'node.id = fhir_node',
  '! a comment with a bang, and the line above ends in a backslash (no continuation)',
  '',
  '   node.server_port_offset   :   10000',
  'node.propertysource\tPROPERTIES',
  'node.security.strict_mode=false',
  '',
  '################################################################################',
  '# FHIR endpoint',
  '################################################################################',
  'module.fhir_endpoint.type                         =http-endpoint',
  'module.fhir_endpoint.requires.SECURITY_IN_UP      =local_security',
  '\tmodule.fhir_endpoint.config.port                =8000',
  'module.fhir_endpoint.config.message               =Caf\\u00e9 \\u2014 welcome, 日本語 ok 🎉',
  'module.fhir_endpoint.config.base_url.fixed        = http://localhost:8000/fhir?a=b#frag',
  'module.fhir_endpoint.config.cors.allowed_origin   = https://a.example.org, \\',
  '                                                    https://b.example.org, \\',
  '                                                    https://c.example.org',
  'module.fhir_endpoint.config.narrative.enabled:true',
  'module.fhir_endpoint.config.empty_value=',
  'module.fhir_endpoint.config.tab_and_newline=one\\ttwo\\nthree',
  'module.fhir_endpoint.config.windows_path=C:\\\\smile\\\\data\\\\',
  'module.fhir_endpoint.config.leading_spaces=\\   indented',
  'module.fhir_endpoint.config.odd\\=key\\:with\\ blanks = escaped key',
  '',
  '# Local security',
  'module.local_security.type local-security',
  'module.local_security.config.sessions.timeout.mins  30',
  'module.local_security.config.seed.users.password = s3cr3t#!=:',
  '   # an indented comment',
  '   ! another one',
  'module.local_security.config.password_encoding_type=BCRYPT_12_ROUND',
  '',
  '# Windows line endings from here on',
  'module.persistence.type=persistence\r',
  'module.persistence.config.db.driver=POSTGRES_9_4\r',
  'module.persistence.config.db.url=jdbc:postgresql://localhost:5432/cdr\r',
  'module.persistence.enabled=false\r',
  '',
  '# the last value of a repeated key wins, as in Java',
  'module.local_security.config.sessions.timeout.mins=45',
  '',
].join('\n');

describe('parseProperties', () => {
  it('reads every key and value of a long, commented, padded node file', () => {
    // given a node file with every separator style, continuations, escapes and UTF-8
    // when it is parsed
    const values = parseProperties(FHIR_NODE);
    // then keys and values are what Java would read
    expect(values['node.id']).toBe('fhir_node');
    expect(values['node.server_port_offset']).toBe('10000');
    expect(values['node.propertysource']).toBe('PROPERTIES');
    expect(values['module.fhir_endpoint.type']).toBe('http-endpoint');
    expect(values['module.fhir_endpoint.config.port']).toBe('8000');
    expect(values['module.fhir_endpoint.config.message']).toBe('Café — welcome, 日本語 ok 🎉');
    expect(values['module.fhir_endpoint.config.base_url.fixed']).toBe(
      'http://localhost:8000/fhir?a=b#frag',
    );
    expect(values['module.fhir_endpoint.config.cors.allowed_origin']).toBe(
      'https://a.example.org, https://b.example.org, https://c.example.org',
    );
    expect(values['module.fhir_endpoint.config.narrative.enabled']).toBe('true');
    expect(values['module.fhir_endpoint.config.empty_value']).toBe('');
    expect(values['module.fhir_endpoint.config.tab_and_newline']).toBe('one\ttwo\nthree');
    expect(values['module.fhir_endpoint.config.windows_path']).toBe('C:\\smile\\data\\');
    expect(values['module.fhir_endpoint.config.leading_spaces']).toBe('   indented');
    expect(values['module.fhir_endpoint.config.odd=key:with blanks']).toBe('escaped key');
    expect(values['module.local_security.type']).toBe('local-security');
    expect(values['module.local_security.config.seed.users.password']).toBe('s3cr3t#!=:');
    expect(values['module.persistence.config.db.url']).toBe('jdbc:postgresql://localhost:5432/cdr');
    expect(values['module.local_security.config.sessions.timeout.mins']).toBe('45');
    expect(Object.keys(values)).toHaveLength(24);
  });

  it('agrees with the library reading the whole file at once', () => {
    expect(parseProperties(FHIR_NODE)).toEqual(getProperties(FHIR_NODE));
  });

  it('reads UTF-8 bytes and skips a byte order mark', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(FHIR_NODE)]);
    expect(parseProperties(bytes)).toEqual(parseProperties(FHIR_NODE));
  });

  it('tells where each key was written and which keys repeat', () => {
    const { entries, duplicates } = parsePropertiesDetailed(FHIR_NODE);
    const at = (key: string) => entries.find((e) => e.key === key);
    expect(at('node.id')).toMatchObject({ line: 4, endLine: 4 });
    expect(at('module.fhir_endpoint.config.cors.allowed_origin')).toMatchObject({
      line: 19,
      endLine: 21,
    });
    expect(duplicates).toEqual([
      { key: 'module.local_security.config.sessions.timeout.mins', lines: [31, 44] },
    ]);
  });

  it('reads keys named like Object members and reports their repeats', () => {
    // given keys that a plain-object lookup would mistake for inherited members
    const text = 'toString=1\nconstructor=a\n10=x\n2=y\nconstructor=b\n10=z\n2=w\n';
    // when the file is parsed
    const { values, duplicates } = parsePropertiesDetailed(text);
    // then they are plain keys, and repeats are listed in the order they first appear
    expect(values).toEqual({ toString: '1', constructor: 'b', 10: 'z', 2: 'w' });
    expect(duplicates).toEqual([
      { key: 'constructor', lines: [2, 5] },
      { key: '10', lines: [3, 6] },
      { key: '2', lines: [4, 7] },
    ]);
  });

  it('maps to a node with modules through nodeFromProperties', () => {
    const node = nodeFromProperties(parseProperties(FHIR_NODE));
    expect(node.nodeId).toBe('fhir_node');
    expect(node.properties.server_port_offset).toBe('10000');
    expect(node.modules.map((m) => m.moduleId)).toEqual([
      'fhir_endpoint',
      'local_security',
      'persistence',
    ]);
    const endpoint = node.modules[0];
    expect(endpoint.requires).toEqual({ SECURITY_IN_UP: 'local_security' });
    expect(endpoint.config.port).toBe('8000');
    expect(node.modules[2].enabled).toBe(false);
  });
});

describe('parseProperties refuses malformed input', () => {
  const lineOf = (text: string | Buffer) => {
    try {
      parseProperties(text, { source: 'node.properties' });
    } catch (err) {
      expect(err).toBeInstanceOf(PropertiesSyntaxError);
      return { line: (err as PropertiesSyntaxError).line, message: (err as Error).message };
    }
    throw new Error('expected a PropertiesSyntaxError');
  };

  it('names the line of a malformed \\u escape', () => {
    const result = lineOf('# header\na=1\n\nb=caf\\u00zz\nc=3\n');
    expect(result.line).toBe(4);
    expect(result.message).toMatch(/^node\.properties: line 4: malformed escaped unicode/);
  });

  it('names the physical line of a bad escape inside a continued value', () => {
    expect(lineOf('a=1\nb=one, \\\n   two, \\\n   thr\\u12\n').line).toBe(4);
  });

  it('names the line of a malformed escape deep in a large file, not of one in a comment', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `key_${i}=value ${i}`);
    const text = ['# a comment may say \\u00zz', ...keys, 'bad=\\u00zz', 'after=1'].join('\n');
    expect(lineOf(text).line).toBe(3002);
  });

  it('names the line of bytes that are not UTF-8', () => {
    const bytes = Buffer.concat([
      Buffer.from('a=1\nb=2\nc='),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('\n'),
    ]);
    const result = lineOf(bytes);
    expect(result.line).toBe(3);
    expect(result.message).toMatch(/not valid UTF-8/);
  });

  it('names the line of an entry without a key', () => {
    expect(lineOf('a=1\n   = orphan value\n')).toMatchObject({ line: 2 });
  });
});

describe('serializeProperties', () => {
  it('round-trips a real node file key for key, in order', () => {
    // given the parsed node file
    const values = parseProperties(FHIR_NODE);
    // when it is written back and read again
    const text = serializeProperties(values, { header: 'Node Configuration: fhir_node' });
    const again = parsePropertiesDetailed(text);
    // then every key and value survives, in the same order
    expect(again.values).toEqual(values);
    expect(again.entries.map((e) => e.key)).toEqual(Object.keys(values));
    expect(getProperties(text)).toEqual(values);
    expect(text.startsWith('# Node Configuration: fhir_node\n\nnode.id=fhir_node\n')).toBe(true);
  });

  it('escapes what would otherwise change meaning', () => {
    const tricky: [string, string][] = [
      ['key with spaces', ' leading blanks, trailing kept  '],
      ['a=b:c#d!e', 'x=y:z'],
      ['#not-a-comment', '!still a value'],
      ['multi', 'line one\nline two\r\nline three'],
      ['ends.in.backslash', 'C:\\dir\\'],
      ['controls', 'bell\u0007 tab\t formfeed\f'],
      ['unicode', 'naïve — 日本 🎉'],
      ['lone.surrogate', 'x\ud800y'],
      ['empty', ''],
    ];
    const text = serializeProperties(tricky, { groupBy: false });
    expect(text.split('\n').filter(Boolean)).toHaveLength(tricky.length);
    expect(Object.entries(parseProperties(text))).toEqual(tricky);
    expect(escapePropertyKey('a b=c')).toBe('a\\ b\\=c');
    expect(escapePropertyValue('  x=y')).toBe('\\  x=y');
  });

  it('writes values readably and what a UTF-8 file cannot hold as escapes', () => {
    expect(escapePropertyValue('jdbc:postgresql://h/db?a=b#f!')).toBe(
      'jdbc:postgresql://h/db?a=b#f!',
    );
    expect(escapePropertyValue('C:\\=x')).toBe('C:\\\\=x');
    expect(escapePropertyValue('esc\u001b[31m x\ud800')).toBe('esc\\u001B[31m x\\uD800');
    expect(escapePropertyKey('#k!\u007f')).toBe('\\#k\\!\\u007F');
  });

  it('groups keys with a blank line between nodes and modules', () => {
    const text = serializeProperties([
      ['node.id', 'n'],
      ['node.a', '1'],
      ['module.one.type', 't'],
      ['module.one.config.port', '1'],
      ['module.two.type', 't'],
    ]);
    expect(text).toBe(
      'node.id=n\nnode.a=1\n\nmodule.one.type=t\nmodule.one.config.port=1\n\nmodule.two.type=t\n',
    );
  });
});
