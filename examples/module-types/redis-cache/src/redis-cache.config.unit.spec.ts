import {
  needsReconnect,
  readRedisCacheSettings,
  REDIS_URL_PATTERN,
  urlWithoutPassword,
} from './redis-cache.config';

const ids = { nodeId: 'shop', moduleId: 'cache' };

describe('redis-cache settings', () => {
  it('given only the required keys, fills the TTL and a key prefix of node and module', () => {
    expect(
      readRedisCacheSettings({ 'redis.url': 'redis://10.0.0.5:6379', port: '8080' }, ids),
    ).toEqual({
      redisUrl: 'redis://10.0.0.5:6379',
      redisPassword: undefined,
      ttlSeconds: 60,
      port: 8080,
      keyPrefix: 'shop:cache:',
    });
  });

  it('given a TTL of 0, a port with letters or no URL, names the key and the rule', () => {
    const base = { 'redis.url': 'redis://h:6379', port: '8080' };
    expect(() => readRedisCacheSettings({ ...base, ttl: '0' }, ids)).toThrow(
      'config.ttl must be an integer from 1',
    );
    expect(() => readRedisCacheSettings({ ...base, port: '80x' }, ids)).toThrow(
      'config.port must be an integer from 1 to 65535, got "80x"',
    );
    expect(() => readRedisCacheSettings({ port: '8080' }, ids)).toThrow(
      'config.redis.url is required',
    );
  });

  it('given a password inside the URL, refuses it (the URL key is not secret) but accepts a user name', () => {
    expect(() =>
      readRedisCacheSettings({ 'redis.url': 'redis://app:hunter2@h:6379', port: '1' }, ids),
    ).toThrow('config.redis.url must be a redis:// or rediss:// URL without a password');
    expect(new RegExp(REDIS_URL_PATTERN).test('rediss://app@h:6380/2')).toBe(true);
    expect(new RegExp(REDIS_URL_PATTERN).test('http://h:6379')).toBe(false);
  });

  it('reconnects for a new URL or password, not for a new TTL, prefix or port', () => {
    const before = readRedisCacheSettings({ 'redis.url': 'redis://a:6379', port: '1' }, ids);
    const same = { ...before, ttlSeconds: 5, keyPrefix: 'x:', port: 2 };
    expect(needsReconnect(before, same)).toBe(false);
    expect(needsReconnect(before, { ...before, redisUrl: 'redis://b:6379' })).toBe(true);
    expect(needsReconnect(before, { ...before, redisPassword: 'new' })).toBe(true);
  });

  it('shows a URL without its password', () => {
    expect(urlWithoutPassword('redis://app:hunter2@h:6379/1')).toBe('redis://app@h:6379/1');
    expect(urlWithoutPassword('redis://h:6379')).toBe('redis://h:6379');
  });
});
