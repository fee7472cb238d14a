import { ModuleTypeRegistration, moduleTypeSchemaHash } from '@plexus/bus';
import { redactDocument, REDACTED, unregisteredTypeWarnings } from '@plexus/domain';
import { builtInModuleTypes } from '../built-in-types';
import { ClusterModuleTypes } from './cluster-module-types';

const schemaV1 = {
  type: 'object',
  properties: {
    port: { type: 'integer', minimum: 1 },
    token_key: { type: 'string' },
    'db.pass': { type: 'string', writeOnly: true },
  },
  required: ['port'],
};
const schemaV1b = { ...schemaV1, required: ['port', 'token_key'] };

const registration = (
  processId: string,
  schema: Record<string, unknown>,
  over: Partial<ModuleTypeRegistration> = {},
): ModuleTypeRegistration => ({
  nodeId: 'n1',
  processId,
  type: 'greeter',
  version: '1.0.0',
  schemaHash: moduleTypeSchemaHash(schema),
  configSchema: schema,
  secretKeys: ['api.key'],
  provides: ['GREETING'],
  requires: [],
  singleProcess: false,
  description: 'says hello',
  ...over,
});

describe('ClusterModuleTypes', () => {
  let registrations: ModuleTypeRegistration[];
  const catalog = new ClusterModuleTypes(builtInModuleTypes(), () => registrations);

  it('knows the built-ins and the registered types, and checks configs against the schema', () => {
    registrations = [registration('p1', schemaV1)];
    expect(catalog.list().map((t) => t.type)).toEqual([
      'http-endpoint',
      'local-security',
      'local-index',
      'persistence',
      'greeter',
    ]);
    const greeter = catalog.get('greeter')!;
    expect(greeter.validateConfig({ port: '80' })).toEqual([]);
    expect(greeter.validateConfig({ port: '0' })).toEqual(['config.port must be >= 1']);
    expect(greeter.provides).toEqual(['GREETING']);
    expect(unregisteredTypeWarnings(catalog, ['greeter', 'http-endpoint'])).toEqual([]);
  });

  it('redacts the secret keys a registration names and its writeOnly properties', () => {
    registrations = [registration('p1', schemaV1)];
    const doc = redactDocument(
      {
        nodeId: 'n1',
        version: 2,
        properties: {},
        archived: false,
        modules: [
          {
            moduleId: 'g',
            type: 'greeter',
            config: { port: '80', 'api.key': 'k', 'db.pass': 'p', other: 'o' },
            requires: {},
            enabled: true,
            activation: 'all',
            generation: 1,
          },
        ],
      } as never,
      catalog,
    );
    expect(doc.modules[0].config).toEqual({
      port: '80',
      'api.key': REDACTED,
      'db.pass': REDACTED,
      other: 'o',
    });
  });

  it('needs a config to meet every schema its live providers publish', () => {
    registrations = [registration('p1', schemaV1), registration('p2', schemaV1b)];
    expect(catalog.get('greeter')!.validateConfig({ port: '80' })).toEqual([
      'config.token_key is required',
    ]);
  });

  it('lists providers, and flags a version whose providers publish different schemas', () => {
    registrations = [
      registration('p2', schemaV1b),
      registration('p1', schemaV1),
      registration('p3', schemaV1b, { version: '2.0.0', nodeId: 'n2' }),
    ];
    const greeter = catalog.describe().find((t) => t.type === 'greeter')!;
    expect(greeter).toMatchObject({ builtIn: false, configSchema: schemaV1b });
    expect(greeter.providers.map((p) => [p.nodeId, p.processId, p.version])).toEqual([
      ['n1', 'p1', '1.0.0'],
      ['n1', 'p2', '1.0.0'],
      ['n2', 'p3', '2.0.0'],
    ]);
    expect(greeter.conflicts).toEqual([
      {
        version: '1.0.0',
        schemaHashes: [moduleTypeSchemaHash(schemaV1), moduleTypeSchemaHash(schemaV1b)].sort(),
      },
    ]);
  });

  it('forgets a type once no live process registers it, and a built-in name stays built-in', () => {
    registrations = [registration('p1', schemaV1, { type: 'http-endpoint' })];
    expect(catalog.get('greeter')).toBeUndefined();
    expect(unregisteredTypeWarnings(catalog, ['greeter', 'greeter'])).toEqual([
      'module type "greeter" is not registered by any live process: it is stored unvalidated, and the worker that applies it validates it',
    ]);
    expect(catalog.get('http-endpoint')!.validateConfig({ port: '0' })).toEqual(
      builtInModuleTypes().get('http-endpoint')!.validateConfig({ port: '0' }),
    );
    const http = catalog.describe().find((t) => t.type === 'http-endpoint')!;
    expect(http.builtIn).toBe(true);
    expect(http.providers.map((p) => p.processId)).toEqual(['p1']);
  });
});
