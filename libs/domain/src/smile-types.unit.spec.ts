import { decide } from './decide';
import { evolveAll } from './evolve';
import { ModuleTypeCatalog, ModuleTypeInfo } from './module-type-catalog';
import { emptyNode, NodeDocument } from './node-document';
import {
  nodeFromProperties,
  nodesFromPropertyEntries,
  nodeToProperties,
  PropertyFileEntry,
} from './properties-mapping';
import { redactDocument } from './secrets';
import {
  CLUSTER_MANAGER_TYPE,
  moduleSupport,
  runnableDocument,
  runnableModule,
  SMILE_TYPE_MAPPINGS,
} from './smile-types';
import { refusal } from './testing/refusal';

/** Plexus's persistence and local-security as the control plane sees them: unknown keys refused. */
const strict = (
  type: string,
  keys: string[],
  extra: (c: Record<string, string>) => string[] = () => [],
  provides: string[] = [],
): ModuleTypeInfo => ({
  type,
  description: type,
  secretKeys: [],
  provides,
  validateConfig: (c) => [
    ...Object.keys(c)
      .filter((k) => !keys.includes(k))
      .map((k) => `config.${k} is not a key of this module type`),
    ...extra(c),
  ],
});
const types = [
  strict(
    'persistence',
    [
      'db.driver',
      'db.url',
      'db.username',
      'db.password',
      'db.connectionpool.maxidle',
      'db.connectionpool.maxtotal',
      'read_only_mode.enabled',
    ],
    (c) => [
      ...(c['db.url'] ? [] : ['config.db.url is required']),
      ...(c['db.connectionpool.maxtotal'] && Number(c['db.connectionpool.maxtotal']) > 999
        ? ['config.db.connectionpool.maxtotal must be an integer from 1 to 999']
        : []),
    ],
  ),
  strict('local-security', ['users', 'sessions.timeout.mins', 'sessions.realm'], () => [], [
    'SECURITY_IN_UP',
  ]),
];
const catalog: ModuleTypeCatalog = {
  get: (t) => types.find((x) => x.type === t),
  list: () => types,
};

/** A Smile file's keys: one node, the cluster manager without a type line (as many real files). */
const SMILE: Record<string, string> = {
  'node.id': 'Master',
  'node.propertysource': 'PROPERTIES',
  'module.clustermgr.config.db.driver': 'POSTGRES_9_4',
  'module.clustermgr.config.db.url': 'jdbc:postgresql://pgsql-clustermgr/clustermgr',
  'module.clustermgr.config.db.password': 'cm-secret',
  'module.clustermgr.config.messagebroker.type': 'EMBEDDED_ACTIVEMQ',
  'module.persistence.type': 'PERSISTENCE_R4',
  'module.persistence.requires.CLUSTERMGR': 'clustermgr',
  'module.persistence.config.db.driver': 'POSTGRES_9_4',
  'module.persistence.config.db.url': 'jdbc:postgresql://pgsql-persistence/persistence',
  'module.persistence.config.db.password': 'p',
  'module.persistence.config.db.schema_update_mode': 'UPDATE',
  'module.persistence.config.dao_config.allow_multiple_delete.enabled': 'false',
  'module.persistence.config.read_only_mode.enabled': 'false',
  'module.local_security.type': 'SECURITY_IN_LOCAL',
  'module.local_security.config.seed.users.file': 'classpath:/config_seeding/users.json',
  'module.fhir_endpoint.type': 'ENDPOINT_FHIR_REST_R4',
  'module.fhir_endpoint.requires.PERSISTENCE_R4': 'persistence',
  'module.fhir_endpoint.requires.SECURITY_IN_UP': 'local_security',
  'module.fhir_endpoint.config.port': '8000',
};

const moduleOf = (flat: Record<string, string>, id: string) =>
  nodeFromProperties(flat).modules.find((m) => m.moduleId === id)!;

const imported = (flat: Record<string, string>): NodeDocument => {
  const node = nodeFromProperties(flat);
  const command = { kind: 'ImportNode' as const, ...node };
  return evolveAll(emptyNode('Master'), decide(null, 'Master', command, catalog));
};

describe('Smile CDR type names', () => {
  it('maps each persistence type on Postgres to persistence, keeping the Smile name and every key', () => {
    for (const smileType of [
      'PERSISTENCE_R4',
      'PERSISTENCE_R5',
      'PERSISTENCE_R4B',
      'PERSISTENCE_DSTU3',
      'PERSISTENCE_DSTU2',
    ]) {
      // given a Smile persistence module of that type on a Postgres database
      const flat = { ...SMILE, 'module.persistence.type': smileType };
      // when the file is read
      const m = moduleOf(flat, 'persistence');
      // then it is Plexus's persistence module, remembering its Smile name, with all its keys
      expect(m).toMatchObject({ type: 'persistence', smileType });
      expect(Object.keys(m.config)).toHaveLength(6);
      expect(m.requires).toEqual({ CLUSTERMGR: 'clustermgr' });
    }
  });

  it('keeps a persistence module on another database than Postgres unsupported, saying why', () => {
    // given Smile's embedded H2 database
    const flat = {
      ...SMILE,
      'module.persistence.config.db.driver': 'H2_EMBEDDED',
      'module.persistence.config.db.url': 'jdbc:h2:file:./database/h2_fhir_persistence',
    };
    // when the file is read, then the module keeps its Smile type, and the import says why
    const m = moduleOf(flat, 'persistence');
    expect(m.type).toBe('PERSISTENCE_R4');
    expect(m.smileType).toBeUndefined();
    expect(moduleSupport(m, catalog)).toEqual({
      moduleId: 'persistence',
      type: 'PERSISTENCE_R4',
      support: 'unsupported',
      reason: "db.driver is H2_EMBEDDED, and Plexus's persistence module runs on Postgres only",
    });
    // and so does a Postgres driver with a URL that is not one (Smile's env placeholder)
    const placeholder = moduleOf(
      { ...SMILE, 'module.persistence.config.db.url': "#{env['DB_CONN_URL']}" },
      'persistence',
    );
    expect(placeholder.type).toBe('PERSISTENCE_R4');
  });

  it('maps SECURITY_IN_LOCAL to local-security and leaves other Smile types as they are', () => {
    expect(moduleOf(SMILE, 'local_security')).toMatchObject({
      type: 'local-security',
      smileType: 'SECURITY_IN_LOCAL',
      config: { 'seed.users.file': 'classpath:/config_seeding/users.json' },
    });
    const endpoint = moduleOf(SMILE, 'fhir_endpoint');
    expect(endpoint.type).toBe('ENDPOINT_FHIR_REST_R4');
    expect(endpoint.smileType).toBeUndefined();
    expect(moduleSupport(endpoint, catalog).support).toBe('unsupported');
    expect(Object.keys(SMILE_TYPE_MAPPINGS)).not.toContain('ENDPOINT_FHIR_REST_R4');
  });

  it('takes a module without a type line as the implicit cluster manager, by ID or by CLUSTERMGR', () => {
    // given the cluster manager without a type line (ID clustermgr)
    const cm = moduleOf(SMILE, 'clustermgr');
    // then it is the cluster manager, its db.* keys kept, provided by Plexus itself
    expect(cm).toMatchObject({ type: CLUSTER_MANAGER_TYPE, smileType: '' });
    expect(cm.config['db.url']).toBe('jdbc:postgresql://pgsql-clustermgr/clustermgr');
    expect(moduleSupport(cm, catalog).support).toBe('provided');
    // and under another ID, when another module requires it as CLUSTERMGR
    const renamed = Object.fromEntries(
      Object.entries(SMILE).map(([k, v]) => [
        k.replace('module.clustermgr.', 'module.cluster.'),
        v === 'clustermgr' ? 'cluster' : v,
      ]),
    );
    expect(moduleOf(renamed, 'cluster').type).toBe(CLUSTER_MANAGER_TYPE);
  });

  it('still refuses, naming the line, a module without a type line that is not the cluster manager', () => {
    const entries: PropertyFileEntry[] = [
      { key: 'node.id', value: 'n1', line: 1 },
      { key: 'module.orphan.config.port', value: '1', line: 2 },
      { key: 'module.clustermgr.config.db.url', value: 'jdbc:postgresql://h/db', line: 3 },
    ];
    const refused = refusal(() => nodesFromPropertyEntries(entries));
    expect([refused.kind, refused.message]).toEqual([
      'invalid',
      'line 2: module "orphan" of node "n1" has no module.orphan.type',
    ]);
    expect(nodesFromPropertyEntries(entries.filter((e) => e.line !== 2))[0].modules).toEqual([
      expect.objectContaining({ moduleId: 'clustermgr', type: CLUSTER_MANAGER_TYPE }),
    ]);
  });

  it('exports the Smile names back, and no type line for the implicit cluster manager: key for key', () => {
    // given the file imported
    const doc = imported(SMILE);
    // when it is exported
    const out = Object.fromEntries(nodeToProperties(doc));
    // then every key and value comes back, and nothing else
    expect(out).toEqual(SMILE);
    // and the redacted document (what the export writes) keeps the Smile names too
    const redacted = Object.fromEntries(nodeToProperties(redactDocument(doc, catalog)));
    expect(redacted['module.persistence.type']).toBe('PERSISTENCE_R4');
    expect(redacted['module.clustermgr.type']).toBeUndefined();
  });

  it("validates a mapped module on Plexus's keys only: Smile's are kept, a bad Plexus value is refused", () => {
    // given Smile keys the persistence schema does not have, then the import is accepted
    expect(imported(SMILE).modules.map((m) => m.moduleId)).toContain('persistence');
    // and a bad value of a key Plexus uses is refused, naming it
    const bad = { ...SMILE, 'module.persistence.config.db.connectionpool.maxtotal': '5000' };
    expect(refusal(() => imported(bad)).message).toContain(
      'config.db.connectionpool.maxtotal must be an integer from 1 to 999',
    );
    // while the same Smile key on a module written as Plexus's persistence is refused
    const plexus = { ...SMILE, 'module.persistence.type': 'persistence' };
    expect(refusal(() => imported(plexus)).message).toContain(
      'config.db.schema_update_mode is not a key of this module type',
    );
  });

  it("seeds a node from a worker's Smile file the same way (first start with --properties)", () => {
    // given the file a worker was started with, when it seeds the node
    const { properties, modules } = nodeFromProperties(SMILE);
    const events = decide(null, 'Master', { kind: 'SeedNode', properties, modules }, catalog);
    // then the mapped modules are added with their Smile names, Smile keys accepted
    const added = events.filter((e) => e.type === 'ModuleAdded').map((e) => e.data);
    expect(added).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          moduleId: 'clustermgr',
          type: CLUSTER_MANAGER_TYPE,
          smileType: '',
        }),
        expect.objectContaining({
          moduleId: 'persistence',
          type: 'persistence',
          smileType: 'PERSISTENCE_R4',
        }),
      ]),
    );
    // and a bad Plexus value is refused there too
    const bad = nodeFromProperties({
      ...SMILE,
      'module.persistence.config.db.connectionpool.maxtotal': '5000',
    });
    expect(
      refusal(() => decide(null, 'Master', { kind: 'SeedNode', ...bad }, catalog)).message,
    ).toContain('config.db.connectionpool.maxtotal');
  });

  it('runs a mapped module with the keys its Plexus type uses and none of its Smile dependencies', () => {
    const doc = imported(SMILE);
    const persistence = runnableModule(doc.modules.find((m) => m.moduleId === 'persistence')!);
    expect(persistence.config).toEqual({
      'db.driver': 'POSTGRES_9_4',
      'db.url': 'jdbc:postgresql://pgsql-persistence/persistence',
      'db.password': 'p',
      'read_only_mode.enabled': 'false',
    });
    expect(persistence.requires).toEqual({});
    // and modules written in Plexus's names run as they are (the same document object)
    const plain = { ...doc, modules: doc.modules.filter((m) => m.smileType === undefined) };
    expect(runnableDocument(plain)).toBe(plain);
  });

  it('keeps the Smile name through a PUT of the same type, and drops it when the type changes', () => {
    const put = (
      doc: NodeDocument,
      moduleId: string,
      type: string,
      config: Record<string, string>,
    ) =>
      evolveAll(
        doc,
        decide(
          doc,
          'Master',
          {
            kind: 'PutModule',
            moduleId,
            module: { type, config, requires: {}, enabled: true, activation: 'all' },
          },
          catalog,
        ),
      );
    // given the imported node, when its persistence module is PUT as persistence with a Smile key
    const doc = imported(SMILE);
    const same = put(doc, 'persistence', 'persistence', {
      'db.url': 'postgres://db/p',
      'db.schema_update_mode': 'NONE',
    });
    // then it is still PERSISTENCE_R4 in the file, and fhir_endpoint's PERSISTENCE_R4 still names it
    expect(Object.fromEntries(nodeToProperties(same))['module.persistence.type']).toBe(
      'PERSISTENCE_R4',
    );
    // and when a module nothing requires becomes another type, its Smile name goes
    const { 'module.fhir_endpoint.requires.SECURITY_IN_UP': _dropped, ...unrequired } = SMILE;
    const other = put(imported(unrequired), 'local_security', 'persistence', {
      'db.url': 'postgres://db/q',
    });
    const security = other.modules.find((m) => m.moduleId === 'local_security')!;
    expect(security).toMatchObject({ type: 'persistence' });
    expect(security.smileType).toBeUndefined();
    expect(Object.fromEntries(nodeToProperties(other))['module.local_security.type']).toBe(
      'persistence',
    );
  });
});
