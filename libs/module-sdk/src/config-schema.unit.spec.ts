import { ConfigSchema, secretKeysOf, withDefaults } from './config-schema';

const schema: ConfigSchema = {
  type: 'object',
  properties: {
    'redis.url': { type: 'string', format: 'uri' },
    'redis.password': { type: 'string', writeOnly: true },
    ttl: { type: 'integer', minimum: 1, default: 60 },
    port: { type: 'integer', default: 8080 },
  },
  required: ['redis.url'],
};

describe('config schema helpers', () => {
  it('given writeOnly properties and a listed key, secretKeysOf names both once', () => {
    expect(secretKeysOf(schema, ['api.key', 'redis.password'])).toEqual([
      'api.key',
      'redis.password',
    ]);
  });

  it('given a config that leaves keys out, withDefaults fills them as strings and keeps the rest', () => {
    expect(withDefaults(schema, { 'redis.url': 'redis://x', port: '9000' })).toEqual({
      'redis.url': 'redis://x',
      port: '9000',
      ttl: '60',
    });
  });
});
