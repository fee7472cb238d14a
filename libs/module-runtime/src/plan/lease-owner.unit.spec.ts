import { ModuleSpec, NodeDocument } from '@plexus/domain';
import { leasedModules, leaseOwners } from './lease-owner';

const mod = (moduleId: string, over: Partial<ModuleSpec> = {}): ModuleSpec => ({
  moduleId,
  type: 'thing',
  config: {},
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
  ...over,
});

const doc = (version: number, modules: ModuleSpec[], archived = false): NodeDocument => ({
  nodeId: 'n1',
  version,
  archived,
  properties: {},
  modules,
});

describe('leasedModules', () => {
  const registry = { get: (type: string) => (type === 'thing' ? {} : undefined) };
  it('names the single modules this process could run: enabled, of a known type, node not archived', () => {
    const modules = [
      mod('solo', { activation: 'single' }),
      mod('everywhere'),
      mod('off', { activation: 'single', enabled: false }),
      mod('alien', { activation: 'single', type: 'unknown' }),
    ];
    expect(leasedModules(doc(1, modules), registry)).toEqual(['solo']);
    expect(leasedModules(doc(2, modules, true), registry)).toEqual([]);
  });

  it('contends only for the first of a chain of single modules: the others follow its lease', () => {
    const modules = [
      mod('jobs', { activation: 'single', requires: { DB: 'store', WEB: 'front' } }),
      mod('store', { activation: 'single' }),
      mod('front'),
    ];
    expect(leasedModules(doc(1, modules), registry)).toEqual(['store']);
  });
});

describe('leaseOwners', () => {
  it('names, for every single module and only those, the module whose lease it follows', () => {
    const modules = [
      mod('jobs', { activation: 'single', requires: { DB: 'store', WEB: 'front' } }),
      mod('store', { activation: 'single' }),
      mod('front'),
      mod('off', { activation: 'single', enabled: false }),
    ];
    expect(leaseOwners(doc(1, modules))).toEqual(
      new Map([
        ['jobs', 'store'],
        ['store', 'store'],
        ['off', 'off'],
      ]),
    );
  });
});
