import type { ModuleType } from '@plexus/module-sdk';
import { builtInModuleTypes } from '../built-in-types';
import { moduleTypesExport, parseModuleTypeSources } from './module-type-package';
import { moduleTypeRegistrations } from './module-type-registrations';
import { registerUserModuleTypes } from './register-user-module-types';

const greeter = (over: Partial<ModuleType> = {}): ModuleType => ({
  name: 'greeter',
  version: '1.0.0',
  description: 'says hello',
  configSchema: {
    type: 'object',
    properties: {
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      greeting: { type: 'string', default: 'hello' },
      'api.key': { type: 'string', writeOnly: true },
    },
    required: ['port'],
    additionalProperties: false,
  },
  start: async () => ({
    reconfigure: async () => 'applied',
    stop: async () => undefined,
    health: () => ({ status: 'UP' }),
  }),
  ...over,
});

describe('moduleTypesExport', () => {
  it('takes moduleTypes from the module, or from its default export', () => {
    expect(moduleTypesExport('pkg', { moduleTypes: [greeter()] })).toHaveLength(1);
    expect(moduleTypesExport('pkg', { default: { moduleTypes: [greeter()] } })).toHaveLength(1);
  });

  it.each([
    ['no moduleTypes', {}, /"pkg" exports no moduleTypes/],
    [
      'moduleTypes not an array',
      { moduleTypes: greeter() },
      /"pkg" exports moduleTypes that is not an array/,
    ],
    ['an empty list', { moduleTypes: [] }, /"pkg" exports an empty moduleTypes array/],
    [
      'start not a function',
      { moduleTypes: [{ ...greeter(), start: 'x' }] },
      /type "greeter" that has no start function/,
    ],
    [
      'version not a string',
      { moduleTypes: [{ ...greeter(), version: 1 }] },
      /type "greeter" that has no version/,
    ],
    [
      'no name',
      { moduleTypes: [{ ...greeter(), name: undefined }] },
      /type at index 0 that has no name/,
    ],
    [
      'a name with a space',
      { moduleTypes: [greeter({ name: 'has space' })] },
      /"has space" that has a name that is not/,
    ],
    [
      'a schema not of an object',
      { moduleTypes: [greeter({ configSchema: { type: 'string' } as never })] },
      /configSchema whose type is not "object"/,
    ],
    [
      'no schema',
      { moduleTypes: [greeter({ configSchema: undefined as never })] },
      /has no configSchema \(a JSON Schema object\)/,
    ],
    [
      'provides not a list',
      { moduleTypes: [greeter({ provides: 'ROLE' as never })] },
      /has provides that is not an array of strings/,
    ],
  ])('refuses %s, naming the package and the fault', (_label, exported, message) => {
    expect(() => moduleTypesExport('pkg', exported)).toThrow(message);
  });
});

describe('parseModuleTypeSources', () => {
  it('splits on commas and drops blanks', () => {
    expect(parseModuleTypeSources(' a , ./b,,/c ')).toEqual(['a', './b', '/c']);
    expect(parseModuleTypeSources(undefined)).toEqual([]);
  });
});

describe('registerUserModuleTypes', () => {
  it('registers user types next to the built-ins, with the schema as their validator', () => {
    const registry = registerUserModuleTypes(builtInModuleTypes(), [
      { source: 'pkg', types: [greeter()] },
    ]);
    const type = registry.get('greeter')!;
    expect(registry.get('http-endpoint')).toBeDefined();
    expect(type.validateConfig({ port: '8080' })).toEqual([]);
    expect(type.validateConfig({ port: '0' })).toEqual(['config.port must be >= 1']);
    expect(type.validateConfig({})).toEqual(['config.port is required']);
    expect(type.secretKeys).toEqual(['api.key']);
  });

  it('refuses a name a built-in or another package already has, and a bad schema', () => {
    expect(() =>
      registerUserModuleTypes(builtInModuleTypes(), [
        { source: 'pkg', types: [greeter({ name: 'http-endpoint' })] },
      ]),
    ).toThrow('module type "http-endpoint" of package "pkg" has the name of a built-in type');
    expect(() =>
      registerUserModuleTypes(builtInModuleTypes(), [
        { source: 'a', types: [greeter()] },
        { source: 'b', types: [greeter()] },
      ]),
    ).toThrow('module type "greeter" is given by both "a" and "b"');
    const registry = builtInModuleTypes();
    expect(() =>
      registerUserModuleTypes(registry, [
        {
          source: 'pkg',
          types: [
            greeter({ name: 'fine' }),
            greeter({
              configSchema: { type: 'object', properties: { port: { type: 'integr' as never } } },
            }),
          ],
        },
      ]),
    ).toThrow(
      /^module type "greeter" of package "pkg": the config schema is not valid JSON Schema/,
    );
    expect(registry.get('fine')).toBeUndefined(); // all or nothing
  });

  it('checks the config itself before start and before each reconfigure', async () => {
    let seen: Record<string, string> | null = null;
    const registry = registerUserModuleTypes(builtInModuleTypes(), [
      {
        source: 'pkg',
        types: [
          greeter({
            start: async (ctx) => {
              seen = { ...ctx.config };
              return {
                reconfigure: async (_ctx, change) =>
                  change.changedKeys.includes('port') ? 'restart' : 'applied',
                stop: async () => undefined,
                health: () => ({ status: 'UP' }),
              };
            },
          }),
        ],
      },
    ]);
    const ctx = (config: Record<string, string>) => ({
      nodeId: 'n',
      processId: 'p',
      moduleId: 'm',
      config,
      portOffset: 0,
      configVersion: () => 1,
      dependencies: {},
      mayServe: () => true,
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    });
    const type = registry.get('greeter')!.definition;
    await expect(type.start(ctx({ port: 'x' }) as never)).rejects.toThrow(
      'config.port must be integer',
    );
    expect(seen).toBeNull(); // refused before the package's own start ran
    const instance = await type.start(ctx({ port: '8080', greeting: 'hello' }) as never);
    expect(seen).toEqual({ port: '8080', greeting: 'hello' });
    const change = (previous: Record<string, string>, config: Record<string, string>) => ({
      config,
      previous,
      changedKeys: Object.keys({ ...previous, ...config }).filter((k) => previous[k] !== config[k]),
    });
    const before = { port: '8080', greeting: 'hello' };
    const hi = { port: '8080', greeting: 'hi' };
    expect(await instance.reconfigure(ctx(hi), change(before, hi))).toBe('applied');
    const moved = { port: '8081', greeting: 'hi' };
    expect(await instance.reconfigure(ctx(moved), change(hi, moved))).toBe('restart');
    await expect(
      instance.reconfigure(ctx({ port: '-1' }), change(moved, { port: '-1' })),
    ).rejects.toThrow('config.port must be >=');
  });

  it('publishes one registration per type with a JSON Schema, hashed canonically', () => {
    const registry = registerUserModuleTypes(builtInModuleTypes(), [
      { source: 'pkg', types: [greeter()] },
    ]);
    const [r] = moduleTypeRegistrations(registry, 'node', 'p-1');
    expect(r).toMatchObject({
      nodeId: 'node',
      processId: 'p-1',
      type: 'greeter',
      version: '1.0.0',
      secretKeys: ['api.key'],
      singleProcess: false,
      description: 'says hello',
    });
    expect(r.schemaHash).toMatch(/^[0-9a-f]{64}$/);
    const reordered = registerUserModuleTypes(builtInModuleTypes(), [
      {
        source: 'pkg',
        types: [
          greeter({
            configSchema: {
              additionalProperties: false,
              required: ['port'],
              properties: { ...greeter().configSchema.properties },
              type: 'object',
            },
          }),
        ],
      },
    ]);
    expect(moduleTypeRegistrations(reordered, 'node', 'p-2')[0].schemaHash).toBe(r.schemaHash);
  });
});
