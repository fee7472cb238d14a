import { ModuleSpec, NodeDocument } from './node-document';
import { modulesLimitingToOneProcess, oneProcessReason } from './process-limits';
import { fakeCatalog } from './testing/fake-catalog';

const mod = (moduleId: string, type: string, over: Partial<ModuleSpec> = {}): ModuleSpec => ({
  moduleId,
  type,
  config: {},
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
  ...over,
});
const node = (...modules: ModuleSpec[]): NodeDocument => ({
  nodeId: 'fhir_node',
  version: 3,
  archived: false,
  properties: {},
  modules,
});

describe('modules that limit a node to one process', () => {
  it('are the enabled active/active modules of single-process types', () => {
    const limiting = modulesLimitingToOneProcess(
      node(mod('web', 'web'), mod('idx', 'index'), mod('sec', 'security')),
      fakeCatalog,
    );
    expect(limiting.map((m) => m.moduleId)).toEqual(['idx']);
  });

  it('leave out such a module run active/passive, or disabled, and types the cluster does not know', () => {
    const doc = node(
      mod('idx1', 'index', { activation: 'single' }),
      mod('idx2', 'index', { enabled: false }),
      mod('other', 'not-a-known-type'),
    );
    expect(modulesLimitingToOneProcess(doc, fakeCatalog)).toEqual([]);
  });

  it('come with a reason that names them and the fix', () => {
    expect(oneProcessReason('fhir_node', [mod('idx', 'index')], 2)).toBe(
      'node "fhir_node" would run 2 processes, but module "idx" (index) is unsafe with more than ' +
        'one process: set activation to "single" (one process runs it, the others stand by) or keep one process',
    );
  });
});
