import { compileConfigValidator } from './config-validation';

const validate = compileConfigValidator({
  type: 'object',
  properties: {
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    'redis.url': { type: 'string', format: 'uri' },
    mode: { type: 'string', enum: ['fast', 'safe'] },
  },
  required: ['redis.url'],
  additionalProperties: false,
});

describe('config validation against a JSON Schema', () => {
  it('given string values of the declared types, it finds nothing wrong', () => {
    expect(validate({ port: '8000', 'redis.url': 'redis://127.0.0.1:6379', mode: 'safe' })).toEqual(
      [],
    );
  });

  it('given bad values, a missing key and an unknown key, it names each key and its rule', () => {
    expect(validate({ port: '80x', prot: '1', mode: 'slow' })).toEqual([
      'config.redis.url is required',
      'config.prot is not a key of this module type',
      'config.port must be integer',
      'config.mode must be one of fast, safe',
    ]);
  });

  it('leaves the caller’s config as it was (values stay strings)', () => {
    const config = { port: '8000', 'redis.url': 'redis://x' };
    validate(config);
    expect(config).toEqual({ port: '8000', 'redis.url': 'redis://x' });
  });

  it('refuses a schema that is not JSON Schema, saying so', () => {
    expect(() =>
      compileConfigValidator({ type: 'object', properties: { a: { type: 'strin' as never } } }),
    ).toThrow('the config schema is not valid JSON Schema');
  });
});

describe('a property’s own message (x-message)', () => {
  const validate = compileConfigValidator({
    type: 'object',
    properties: {
      port: {
        type: 'integer',
        minimum: 0,
        maximum: 65535,
        'x-message': 'must be an integer from 0 to 65535',
      },
      host: {
        type: 'string',
        anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }],
        'x-message': 'must be an IPv4 or IPv6 address',
      },
      name: { type: 'string', maxLength: 3 },
    },
    additionalProperties: false,
  });

  it('replaces every rule’s message of that key, once, and leaves other keys to ajv', () => {
    expect(validate({ port: '70000', host: 'example.org', name: 'toolong' })).toEqual([
      'config.port must be an integer from 0 to 65535',
      'config.host must be an IPv4 or IPv6 address',
      'config.name must NOT have more than 3 characters',
    ]);
    expect(validate({ port: 'eighty' })).toEqual([
      'config.port must be an integer from 0 to 65535',
    ]);
    expect(validate({ port: '' })).toEqual(['config.port must be an integer from 0 to 65535']);
  });

  it('accepts what the rules accept', () => {
    expect(validate({ port: '0', host: '::1' })).toEqual([]);
    expect(validate({ port: '65535', host: '10.0.0.1' })).toEqual([]);
  });
});
