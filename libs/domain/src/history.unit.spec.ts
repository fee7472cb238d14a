import { decide } from './decide';
import { diffDocuments } from './diff';
import { NodeEvent } from './events';
import { evolveAll } from './evolve';
import { fakeCatalog } from './testing/fake-catalog';
import { emptyNode, NodeDocument } from './node-document';

const catalog = fakeCatalog;

const history: NodeEvent[] = [
  { type: 'NodeCreated', data: { properties: { region: 'eu' } } },
  {
    type: 'ModuleAdded',
    data: {
      moduleId: 'sec',
      type: 'security',
      config: { users: 'alice:h1' },
      requires: {},
      enabled: true,
      activation: 'all',
    },
  },
  {
    type: 'ModuleAdded',
    data: {
      moduleId: 'web',
      type: 'web',
      config: { port: '80', message: 'v3' },
      requires: { SECURITY_IN_UP: 'sec' },
      enabled: true,
      activation: 'all',
    },
  },
  // --- version 3 above ---
  {
    type: 'ModuleConfigChanged',
    data: { moduleId: 'web', changes: [{ key: 'message', old: 'v3', new: 'v4' }] },
  },
  { type: 'ModuleConfigChanged', data: { moduleId: 'web', changes: [], requires: {} } },
  { type: 'ModuleRemoved', data: { moduleId: 'sec' } },
  {
    type: 'ModuleAdded',
    data: {
      moduleId: 'api',
      type: 'web',
      config: { port: '81' },
      requires: {},
      enabled: false,
      activation: 'single',
    },
  },
  { type: 'NodePropertiesChanged', data: { changes: [{ key: 'region', old: 'eu', new: 'us' }] } },
];
const at = (version: number) => evolveAll(emptyNode('n1'), history.slice(0, version));
const config = (doc: NodeDocument) => ({
  properties: doc.properties,
  modules: [...doc.modules]
    .sort((a, b) => a.moduleId.localeCompare(b.moduleId))
    .map(({ generation: _g, ...m }) => m),
});

describe('revert (RestoreNode)', () => {
  it('given a node changed since version 3, when restored to 3, then its configuration equals version 3 again', () => {
    const current = at(8);
    const events = decide(current, 'n1', { kind: 'RestoreNode', target: at(3) }, catalog);
    const restored = evolveAll(current, events);
    expect(config(restored)).toEqual(config(at(3)));
    expect(restored.version).toBe(8 + events.length); // forward events: history is never rewritten
    // the module that others require is added before them
    expect(
      events.findIndex((e) => e.type === 'ModuleAdded' && e.data.moduleId === 'sec'),
    ).toBeLessThan(
      events.findIndex((e) => e.type === 'ModuleConfigChanged' && e.data.moduleId === 'web'),
    );
  });

  it('restores every earlier version exactly', () => {
    for (let v = 1; v <= 8; v++) {
      const restored = evolveAll(
        at(8),
        decide(at(8), 'n1', { kind: 'RestoreNode', target: at(v) }, catalog),
      );
      expect(config(restored)).toEqual(config(at(v)));
    }
  });

  it('re-creates an archived node from the target version', () => {
    const archived = evolveAll(at(8), [{ type: 'NodeArchived', data: {} }]);
    const events = decide(archived, 'n1', { kind: 'RestoreNode', target: at(3) }, catalog);
    expect(events[0].type).toBe('NodeCreated');
    expect(config(evolveAll(archived, events))).toEqual(config(at(3)));
  });

  it('changes nothing when the node already has that configuration', () => {
    expect(decide(at(8), 'n1', { kind: 'RestoreNode', target: at(8) }, catalog)).toEqual([]);
  });
});

describe('diffDocuments', () => {
  it('lists properties, modules added, removed and changed, with secrets redacted', () => {
    const diff = diffDocuments(at(3), at(8), catalog);
    expect(diff).toMatchObject({
      from: 3,
      to: 8,
      properties: [{ key: 'region', old: 'eu', new: 'us' }],
    });
    expect(diff.modulesAdded.map((m) => m.moduleId)).toEqual(['api']);
    expect(diff.modulesRemoved).toEqual([
      expect.objectContaining({ moduleId: 'sec', config: { users: '******' } }),
    ]);
    expect(diff.modulesChanged).toEqual([
      {
        moduleId: 'web',
        config: [{ key: 'message', old: 'v3', new: 'v4' }],
        requires: { old: { SECURITY_IN_UP: 'sec' }, new: {} },
      },
    ]);
  });
});
