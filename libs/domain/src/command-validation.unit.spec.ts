import {
  checkKeys,
  checkListedModuleId,
  checkNotRequired,
  checkRequires,
  liveNode,
} from './command-validation';
import { emptyNode, ModuleSpec, NodeDocument } from './node-document';
import { fakeCatalog as catalog } from './testing/fake-catalog';
import { refusal } from './testing/refusal';

const mod = (moduleId: string, type: string, requires: Record<string, string> = {}) => ({
  moduleId,
  type,
  requires,
});

describe('command validation', () => {
  it('given a key with a separator or one too long, when checked, then it is refused naming the field', () => {
    expect(() => checkKeys('properties', { 'a.b_c-1': 'x' })).not.toThrow();
    expect(refusal(() => checkKeys('properties', { 'a=b': 'x' })).message).toMatch(
      /^properties key "a=b" must be 1-200 characters without white space/,
    );
    expect(refusal(() => checkKeys('properties', { ['k'.repeat(201)]: 'x' })).message).toMatch(
      /\(201 characters\) must be/,
    );
  });

  it('given a list of modules, when an ID repeats or is malformed, then it is refused', () => {
    const seen = new Set<string>();
    checkListedModuleId('web', seen);
    expect(refusal(() => checkListedModuleId('web', seen)).message).toBe(
      'module "web" is given twice',
    );
    expect(refusal(() => checkListedModuleId('has space', seen)).message).toMatch(
      /^moduleId must be 1-30 characters/,
    );
  });

  it('given requires, when a role is lower case, names itself or forms a cycle, then it is refused', () => {
    expect(refusal(() => checkRequires([mod('a', 'x', { role: 'b' })], catalog)).message).toMatch(
      /requires role "role" of module "a" must be upper-case/,
    );
    expect(refusal(() => checkRequires([mod('a', 'x', { R: 'a' })], catalog)).message).toMatch(
      /names "a", which is not another module of this node/,
    );
    const cycle = [mod('a', 'x', { R: 'b' }), mod('b', 'x', { R: 'c' }), mod('c', 'x', { R: 'a' })];
    expect(refusal(() => checkRequires(cycle, catalog)).message).toBe(
      'requires form a cycle: a -> b -> c -> a',
    );
  });

  it('given a module another one requires, when it is to be removed, then that is a conflict', () => {
    const doc: NodeDocument = {
      ...emptyNode('n1'),
      version: 2,
      modules: [
        { ...mod('sec', 'security'), config: {}, enabled: true, activation: 'all', generation: 0 },
        {
          ...mod('web', 'web', { SECURITY_IN_UP: 'sec' }),
          config: {},
          enabled: true,
          activation: 'all',
          generation: 0,
        } as ModuleSpec,
      ],
    };
    const error = refusal(() => checkNotRequired(doc, 'sec'));
    expect([error.kind, error.message]).toEqual([
      'conflict',
      'module "sec" is required by module "web" (SECURITY_IN_UP); change or remove that first',
    ]);
    expect(() => checkNotRequired(doc, 'web')).not.toThrow();
  });

  it('a node is live once created and until archived', () => {
    expect(liveNode(null)).toBeNull();
    expect(liveNode(emptyNode('n1'))).toBeNull();
    const created = { ...emptyNode('n1'), version: 1 };
    expect(liveNode(created)).toBe(created);
    expect(liveNode({ ...created, archived: true })).toBeNull();
  });
});
