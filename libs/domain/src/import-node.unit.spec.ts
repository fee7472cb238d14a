import { NodeCommand } from './commands';
import { decide } from './decide';
import { NodeEvent } from './events';
import { evolveAll } from './evolve';
import { emptyNode, ModuleSpec, NodeDocument } from './node-document';
import {
  lineOfModule,
  nodeFromProperties,
  nodesFromPropertyEntries,
  nodeToProperties,
  PropertyFileEntry,
} from './properties-mapping';
import { redactDocument, REDACTED } from './secrets';
import { fakeCatalog as catalog } from './testing/fake-catalog';
import { refusal } from './testing/refusal';

type FileModule = Omit<ModuleSpec, 'generation'>;

const mod = (moduleId: string, type: string, extra: Partial<FileModule> = {}): FileModule => ({
  moduleId,
  type,
  config: {},
  requires: {},
  enabled: true,
  activation: 'all',
  ...extra,
});

const importing = (properties: Record<string, string>, modules: FileModule[]): NodeCommand => ({
  kind: 'ImportNode',
  properties,
  modules,
});

const stateOf = (...events: NodeEvent[]): NodeDocument | null =>
  events.length ? evolveAll(emptyNode('n1'), events) : null;

/** Entries as the parser gives them: one per line from line 1. */
const entries = (...pairs: [string, string][]): PropertyFileEntry[] =>
  pairs.map(([key, value], i) => ({ key, value, line: i + 1 }));

describe('ImportNode', () => {
  const sec = mod('sec', 'security', { config: { users: 'alice:hash' } });
  const web = mod('web', 'web', { config: { port: '80' }, requires: { SECURITY_IN_UP: 'sec' } });
  const crm = mod('crm', 'SMILE_UNKNOWN_TYPE', {
    config: { 'db.password': 'p1', 'db.url': 'jdbc:x' },
    activation: 'single',
  });

  it('creates a missing node with its modules in dependency order, unknown types kept', () => {
    // given no node, when a file with three modules (one of a type Plexus does not know) is imported
    const events = decide(null, 'n1', importing({ region: 'eu' }, [web, crm, sec]), catalog);
    // then the node is created and each module added after the modules it requires
    expect(events.map((e) => e.type)).toEqual([
      'NodeCreated',
      'ModuleAdded',
      'ModuleAdded',
      'ModuleAdded',
    ]);
    expect(events.slice(1).map((e) => (e.data as { moduleId: string }).moduleId)).toEqual([
      'sec',
      'web',
      'crm',
    ]);
    expect(events[3]).toEqual({ type: 'ModuleAdded', data: crm });
  });

  it('makes an existing node equal the file with only the changes as events', () => {
    // given a node created from the file
    const state = stateOf(
      ...decide(null, 'n1', importing({ region: 'eu' }, [web, crm, sec]), catalog),
    );
    // when a file with one changed key, one removed module, one stopped module and a new property
    const events = decide(
      state,
      'n1',
      importing({ region: 'eu', tier: 'gold' }, [
        mod('sec', 'security', { config: { users: 'alice:hash' } }),
        mod('web', 'web', {
          config: { port: '81' },
          requires: { SECURITY_IN_UP: 'sec' },
          enabled: false,
        }),
      ]),
      catalog,
    );
    // then exactly those changes are recorded
    expect(events).toEqual([
      {
        type: 'NodePropertiesChanged',
        data: { changes: [{ key: 'tier', old: null, new: 'gold' }] },
      },
      {
        type: 'ModuleConfigChanged',
        data: { moduleId: 'web', changes: [{ key: 'port', old: '80', new: '81' }] },
      },
      { type: 'ModuleStopped', data: { moduleId: 'web' } },
      { type: 'ModuleRemoved', data: { moduleId: 'crm' } },
    ]);
  });

  it('changes nothing when its own redacted export is imported again', () => {
    // given a node with secrets in a property, a known type's secret key and an unknown type's *password key
    const state = stateOf(
      ...decide(null, 'n1', importing({ api_token: 't0k' }, [sec, web, crm]), catalog),
    );
    // when its export (secrets masked) is mapped back and imported
    const exported = nodeToProperties(redactDocument(state!, catalog));
    const file = nodeFromProperties(Object.fromEntries(exported));
    expect(file.properties.api_token).toBe(REDACTED);
    expect(file.modules.find((m) => m.moduleId === 'crm')!.config['db.password']).toBe(REDACTED);
    const events = decide(state, 'n1', importing(file.properties, file.modules), catalog);
    // then nothing changes: every masked value keeps the stored one
    expect(events).toEqual([]);
  });

  it('refuses a masked secret where no value is stored to keep', () => {
    const masked = mod('crm', 'SMILE_UNKNOWN_TYPE', { config: { 'db.password': REDACTED } });
    expect(refusal(() => decide(null, 'n1', importing({}, [masked]), catalog)).message).toMatch(
      /modules\.crm\.config\.db\.password is "\*\*\*\*\*\*" but no value is stored/,
    );
    expect(
      refusal(() => decide(null, 'n1', importing({ x_secret: REDACTED }, []), catalog)).message,
    ).toMatch(/properties\.x_secret/);
  });

  it("checks a known type's config against its schema and names the module", () => {
    const bad = mod('web', 'web', { config: { port: 'eighty' } });
    const error = refusal(() => decide(null, 'n1', importing({}, [bad]), catalog));
    expect(error.kind).toBe('invalid');
    expect(error.message).toBe('module "web" (type web): config.port must be an integer');
  });

  it('refuses requires that name no module of the node, and bad module IDs', () => {
    const orphan = mod('web', 'web', { config: { port: '1' }, requires: { SECURITY_IN_UP: 'x' } });
    expect(refusal(() => decide(null, 'n1', importing({}, [orphan]), catalog)).message).toMatch(
      /requires\.SECURITY_IN_UP of module "web" names "x"/,
    );
    expect(
      refusal(() => decide(null, 'n1', importing({}, [mod('a b', 'web')]), catalog)).message,
    ).toMatch(/moduleId must be/);
    expect(refusal(() => decide(null, 'bad id!', importing({}, []), catalog)).message).toMatch(
      /nodeId must be/,
    );
  });

  it('creates an archived node again', () => {
    const state = stateOf(
      { type: 'NodeCreated', data: { properties: {} } },
      { type: 'NodeArchived', data: {} },
    );
    expect(decide(state, 'n1', importing({ a: '1' }, []), catalog)).toEqual([
      { type: 'NodeCreated', data: { properties: { a: '1' } } },
    ]);
  });
});

describe('nodesFromPropertyEntries', () => {
  it('splits a file into nodes at each node.id entry', () => {
    const sections = nodesFromPropertyEntries(
      entries(
        ['node.id', 'a'],
        ['node.region', 'eu'],
        ['module.web.type', 'web'],
        ['module.web.config.port', '80'],
        ['node.id', 'b'],
        ['module.web.type', 'OTHER'],
        ['module.web.enabled', 'false'],
        ['module.web.activation', 'single'],
        ['module.web.requires.ROLE_X', 'db'],
        ['module.db.type', 'PERSISTENCE_R4'],
      ),
    );
    expect(sections.map((s) => [s.nodeId, s.line, s.entries.length])).toEqual([
      ['a', 1, 4],
      ['b', 5, 6],
    ]);
    expect(sections[0]).toMatchObject({
      properties: { region: 'eu' },
      modules: [mod('web', 'web', { config: { port: '80' } })],
    });
    expect(sections[1].modules).toEqual([
      mod('web', 'OTHER', { enabled: false, activation: 'single', requires: { ROLE_X: 'db' } }),
      mod('db', 'PERSISTENCE_R4'),
    ]);
    expect(lineOfModule(sections[1], 'db')).toBe(10);
  });

  it('reads module IDs with dots', () => {
    const [node] = nodesFromPropertyEntries(
      entries(
        ['node.id', 'a'],
        ['module.fhir.r4.type', 'ENDPOINT_FHIR_REST_R4'],
        ['module.fhir.r4.config.port', '8000'],
        ['module.fhir.r4.requires.PERSISTENCE_R4', 'db.main'],
        ['module.db.main.type', 'PERSISTENCE_R4'],
      ),
    );
    expect(node.modules.map((m) => [m.moduleId, m.config, m.requires])).toEqual([
      ['fhir.r4', { port: '8000' }, { PERSISTENCE_R4: 'db.main' }],
      ['db.main', {}, {}],
    ]);
  });

  it('keeps the last value of a repeated key, as Java does', () => {
    const [node] = nodesFromPropertyEntries(
      entries(['node.id', 'a'], ['node.x', '1'], ['node.x', '2']),
    );
    expect(node.properties).toEqual({ x: '2' });
  });

  const lineError = (...pairs: [string, string][]) =>
    refusal(() => nodesFromPropertyEntries(entries(...pairs))).message;

  it('refuses keys of no node or of no known shape, naming the line', () => {
    expect(lineError(['node.region', 'eu'], ['node.id', 'a'])).toMatch(
      /^line 1: key "node.region" comes before the first node.id/,
    );
    expect(lineError(['node.id', 'a'], ['node.x', '1'], ['server.port', '80'])).toMatch(
      /^line 3: key "server.port" must be node.<property> or module.<id>.type/,
    );
    expect(lineError(['node.id', 'a'], ['module.web.port', '80'])).toMatch(
      /^line 2: key "module.web.port" must be/,
    );
    expect(lineError(['node.id', 'a'], ['module.web.config.', '80'])).toMatch(/^line 2: /);
    expect(lineError(['node.id', 'a'], ['node.', 'x'])).toMatch(/^line 2: .*names no property/);
  });

  it('refuses bad values of the keys it interprets, naming the line', () => {
    expect(
      lineError(['node.id', 'a'], ['module.w.type', 'x'], ['module.w.enabled', 'yes']),
    ).toMatch(/^line 3: key "module.w.enabled" must be true or false, got "yes"/);
    expect(
      lineError(['node.id', 'a'], ['module.w.type', 'x'], ['module.w.activation', 'one']),
    ).toMatch(/^line 3: .*must be all or single/);
    expect(lineError(['node.id', 'a'], ['module.w.type', ''])).toMatch(
      /^line 2: .*names no module type/,
    );
    expect(lineError(['node.id', 'bad id'])).toMatch(/^line 1: node.id must be 1-30 characters/);
    expect(lineError(['node.id', 'a'], ['module.a b.type', 'x'])).toMatch(
      /^line 2: module ID "a b"/,
    );
  });

  it('refuses a module without a type, a node given twice, and a file without a node', () => {
    expect(
      lineError(
        ['node.id', 'a'],
        ['module.w.type', 'x'],
        ['module.v.config.k', '1'],
        ['node.id', 'b'],
      ),
    ).toMatch(/^line 3: module "v" of node "a" has no module.v.type/);
    expect(lineError(['node.id', 'a'], ['node.id', 'b'], ['node.id', 'a'])).toMatch(
      /^line 3: node "a" is given twice \(first at line 1\)/,
    );
    expect(lineError()).toMatch(/the file names no node/);
  });
});

describe('nodeToProperties', () => {
  it('round-trips a document through nodesFromPropertyEntries, dotted module IDs included', () => {
    const doc: NodeDocument = {
      nodeId: 'n1',
      version: 4,
      archived: false,
      properties: { region: 'eu', 'a.b': 'c' },
      modules: [
        { ...mod('db.main', 'PERSISTENCE_R4', { config: { 'db.url': 'jdbc:x' } }), generation: 0 },
        {
          ...mod('fhir', 'ENDPOINT', {
            requires: { PERSISTENCE_R4: 'db.main' },
            enabled: false,
            activation: 'single',
            config: { port: '8000', type: 'odd but allowed' },
          }),
          generation: 3,
        },
      ],
    };
    const flat = nodeToProperties(doc).map(([key, value], i) => ({ key, value, line: i + 1 }));
    const [section] = nodesFromPropertyEntries(flat);
    expect(section.nodeId).toBe('n1');
    expect(section.properties).toEqual(doc.properties);
    expect(section.modules).toEqual(doc.modules.map(({ generation: _generation, ...m }) => m));
  });

  it('does not write a property named "id", which would read as a second node', () => {
    const doc: NodeDocument = { ...emptyNode('n1'), properties: { id: 'other', x: '1' } };
    expect(nodeToProperties(doc)).toEqual([
      ['node.id', 'n1'],
      ['node.x', '1'],
    ]);
  });
});
