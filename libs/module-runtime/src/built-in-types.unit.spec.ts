import Ajv from 'ajv';
import { builtInModuleTypes } from './built-in-types';
import { describeConfig } from './config-schema';

const registry = builtInModuleTypes();
const validate = (type: string, config: Record<string, string>) =>
  registry.get(type)!.validateConfig(config);

describe('the built-in module types on the SDK contract', () => {
  it('each has a config schema that is valid JSON Schema, refusing unknown keys', () => {
    const meta = new Ajv({ strict: false });
    expect(registry.list().map((t) => t.type)).toEqual([
      'http-endpoint',
      'local-security',
      'local-index',
      'persistence',
    ]);
    for (const t of registry.list()) {
      expect([t.type, meta.validateSchema(t.configSchema), meta.errors ?? null]).toEqual([
        t.type,
        true,
        null,
      ]);
      expect(t.configSchema.additionalProperties).toBe(false);
      expect(t.version).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it('accepts the configs it accepted before, values as strings', () => {
    for (const config of <Record<string, string>[]>[
      { port: '8000' },
      { port: '0', message: 'hi', bind_address: '0.0.0.0' },
      { port: '65535', bind_address: '::1', message: 'x'.repeat(1000) },
    ])
      expect(validate('http-endpoint', config)).toEqual([]);
    expect(validate('local-index', {})).toEqual([]);
    expect(validate('local-index', { 'index.path': '/var/plexus/index' })).toEqual([]);
    expect(
      validate('persistence', {
        'db.url': 'postgres://127.0.0.1:5432/fhir',
        'db.connectionpool.maxidle': '0',
        'db.connectionpool.maxtotal': '999',
        'read_only_mode.enabled': 'true',
        'db.driver': 'postgres',
      }),
    ).toEqual([]);
  });

  it('refuses what it refused before, with the same messages', () => {
    expect(validate('http-endpoint', { port: '65536' })).toEqual([
      'config.port must be an integer from 0 to 65535',
    ]);
    expect(validate('http-endpoint', { port: 'eighty-one hundred' })).toEqual([
      'config.port must be an integer from 0 to 65535',
    ]);
    expect(
      validate('http-endpoint', {
        port: '8000',
        bind_address: 'localhost',
        message: 'x'.repeat(1001),
        prot: '1',
      }),
    ).toEqual([
      'config.prot is not a key of this module type',
      'config.message must be shorter than or equal to 1000 characters',
      'config.bind_address must be an IPv4 or IPv6 address',
    ]);
    expect(validate('local-index', { 'index.path': ' /x' })).toEqual([
      'config.index.path must be a directory path',
    ]);
    expect(
      validate('persistence', {
        'db.url': 'postgres://127.0.0.1:5432/fhir',
        'db.username': 'u'.repeat(64),
        'db.connectionpool.maxidle': '1000',
        'read_only_mode.enabled': 'TRUE',
      }),
    ).toEqual([
      'config.db.username must be at most 63 characters',
      'config.db.connectionpool.maxidle must be an integer from 0 to 999',
      'config.read_only_mode.enabled must be true or false',
    ]);
  });

  it('names a missing required key', () => {
    expect(validate('http-endpoint', {})).toEqual(['config.port is required']);
  });

  it('describes each key for GET /module-types: required, type, rules, default, secret', () => {
    const http = registry.get('http-endpoint')!;
    expect(describeConfig(http.configSchema, http.secretKeys)).toEqual([
      expect.objectContaining({
        key: 'port',
        required: true,
        type: 'integer',
        rules: ['minimum: 0', 'maximum: 65535', 'must be an integer from 0 to 65535'],
        secret: false,
      }),
      expect.objectContaining({ key: 'message', required: false, default: 'Hello from Plexus' }),
      expect.objectContaining({ key: 'bind_address', default: '127.0.0.1' }),
    ]);
    const security = registry.get('local-security')!;
    expect(
      describeConfig(security.configSchema, security.secretKeys).map((d) => [d.key, d.secret]),
    ).toEqual([
      ['users', true],
      ['sessions.timeout.mins', false],
      ['sessions.realm', false],
    ]);
    const persistence = registry.get('persistence')!;
    expect(persistence.secretKeys).toEqual(['db.password']);
    expect(
      describeConfig(persistence.configSchema).find((d) => d.key === 'db.connectionpool.maxtotal'),
    ).toMatchObject({ type: 'integer', default: 10 });
  });
});
