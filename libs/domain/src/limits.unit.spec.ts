import { DomainError } from './errors';
import {
  checkNodeCounts,
  entryLengthProblem,
  MAX_FILE_KEY_LENGTH,
  MAX_VALUE_LENGTH,
  NodeLimits,
} from './limits';
import { ModuleSpec, NodeDocument } from './node-document';
import { nodeFromProperties, nodesFromPropertyEntries } from './properties-mapping';

const mod = (moduleId: string, keys = 0): ModuleSpec => ({
  moduleId,
  type: 't',
  config: Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, 'v'])),
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
});
const node = (modules: ModuleSpec[], properties = {}): NodeDocument => ({
  nodeId: 'n1',
  version: 1,
  archived: false,
  properties,
  modules,
});
const limits: NodeLimits = { maxModules: 2, maxKeys: 3 };

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('node count limits', () => {
  it('refuses a third module as too large, naming the variable', () => {
    const err = refusal(() =>
      checkNodeCounts(node([mod('a'), mod('b')]), node([mod('a'), mod('b'), mod('c')]), limits),
    );
    expect(err.kind).toBe('too-large');
    expect(err.message).toBe(
      'node "n1" would have 3 modules: a node may have at most 2 modules (NODE_MAX_MODULES)',
    );
  });

  it("refuses a fourth key in a module's config, naming the map", () => {
    const before = node([mod('a', 3)]);
    const after = node([{ ...mod('a', 4) }]);
    expect(refusal(() => checkNodeCounts(before, after, limits)).message).toBe(
      'modules.a.config of node "n1" would have 4 keys: a map may have at most 3 keys (NODE_MAX_KEYS)',
    );
  });

  it('lets a node already over a lowered limit shrink or change in place', () => {
    const over = node([mod('a', 5), mod('b'), mod('c')], { p1: '1', p2: '2', p3: '3', p4: '4' });
    const fewerKeys = node([mod('a', 4), mod('b'), mod('c')], over.properties);
    expect(() => checkNodeCounts(over, fewerKeys, limits)).not.toThrow();
    const changedProperty = { ...over, properties: { ...over.properties, p1: 'changed' } };
    expect(() => checkNodeCounts(over, changedProperty, limits)).not.toThrow();
  });
});

describe('entry lengths, checked before any pattern', () => {
  it('bounds keys by the longest valid module key, quoting only their start', () => {
    expect(MAX_FILE_KEY_LENGTH).toBe(245);
    expect(entryLengthProblem(`module.${'a'.repeat(30)}.config.${'k'.repeat(200)}`, 'v')).toBe(
      null,
    );
    const problem = entryLengthProblem(`module.m.config.${'k'.repeat(300)}`, 'v');
    expect(problem).toContain('(316 characters) is too long: a key may have at most 245');
    expect(problem!.length).toBeLessThan(300);
  });

  it('bounds values at 64 KiB', () => {
    expect(entryLengthProblem('node.p', 'x'.repeat(MAX_VALUE_LENGTH))).toBe(null);
    expect(entryLengthProblem('node.p', 'x'.repeat(MAX_VALUE_LENGTH + 1))).toBe(
      'the value of key "node.p" has 65537 characters: a value may have at most 65536 characters',
    );
  });

  it('refuses a pathological 300 KB module key by its length, in a file and in a first-start request', () => {
    // A key that made the module-key pattern backtrack at every dot (quadratic: ~15 s at 300 KB).
    const key = `module.${'.config.'.repeat(37_500)}\u2028`;
    const file = nodesFromPropertyEntries.bind(null, [
      { key: 'node.id', value: 'n1', line: 1 },
      { key, value: 'x', line: 2 },
    ]);
    expect(refusal(file).message).toMatch(/^line 2: key "module\.\.config.*is too long/);
    expect(refusal(() => nodeFromProperties({ [key]: 'x' })).message).toMatch(/is too long/);
  });

  it('reads module keys with dots in the ID and in the config key as before', () => {
    const parsed = nodeFromProperties({
      'module.fhir.r4.type': 'fhir',
      'module.fhir.r4.config.a.b.c': '1',
      'module.fhir.r4.requires.SECURITY_IN_UP': 'sec',
      'module.sec.type': 'security',
    });
    expect(parsed.modules[0]).toMatchObject({
      moduleId: 'fhir.r4',
      config: { 'a.b.c': '1' },
      requires: { SECURITY_IN_UP: 'sec' },
    });
  });
});
