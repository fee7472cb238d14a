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
