import type { ConfigSchema, ModuleConfig } from '@plexus/module-sdk';

/**
 * `redis://` or `rediss://`, with no password in the URL: `redis.url` is not a secret key, so a
 * password in it would be shown in clear by the API. The password goes in `redis.password`.
 */
export const REDIS_URL_PATTERN = '^rediss?://(?![^/@]*:[^/@]*@)';

export const DEFAULT_TTL_SECONDS = 60;

/**
 * What the control plane validates before it stores a config (values arrive as strings and are
 * coerced to the declared types), and what the worker checks again in `readRedisCacheSettings`.
 */
export const redisCacheSchema: ConfigSchema = {
  type: 'object',
  properties: {
    'redis.url': {
      type: 'string',
      format: 'uri',
      pattern: REDIS_URL_PATTERN,
      description: 'redis:// or rediss:// URL of the Redis server, without a password',
    },
    'redis.password': {
      type: 'string',
      writeOnly: true,
      description: 'Password of the Redis server (AUTH); a secret',
    },
    ttl: {
      type: 'integer',
      minimum: 1,
      default: DEFAULT_TTL_SECONDS,
      description: 'Seconds a stored value lives',
    },
    port: {
      type: 'integer',
      minimum: 1,
      maximum: 65535,
      description: "HTTP port; the process's port offset is added",
    },
    'key.prefix': {
      type: 'string',
      maxLength: 200,
      description: 'Prefix of every Redis key; default `<nodeId>:<moduleId>:`',
    },
  },
  required: ['redis.url', 'port'],
  additionalProperties: false,
};

/** A redis-cache module's config, parsed. */
export interface RedisCacheSettings {
  redisUrl: string;
  redisPassword: string | undefined;
  ttlSeconds: number;
  port: number;
  keyPrefix: string;
}

/**
 * Parses a module's config (strings, as the worker hands them over). Throws naming the key and
 * the rule: a worker also runs modules the control plane could not validate (a type no process
 * had registered yet when the config was stored).
 */
export function readRedisCacheSettings(
  config: ModuleConfig,
  ids: { nodeId: string; moduleId: string },
): RedisCacheSettings {
  const redisUrl = config['redis.url'];
  if (!redisUrl) throw new Error('config.redis.url is required');
  if (!new RegExp(REDIS_URL_PATTERN).test(redisUrl))
    throw new Error(
      'config.redis.url must be a redis:// or rediss:// URL without a password (use redis.password)',
    );
  return {
    redisUrl,
    redisPassword: config['redis.password'] || undefined,
    ttlSeconds: integerKey(config, 'ttl', 1, Number.MAX_SAFE_INTEGER, DEFAULT_TTL_SECONDS),
    port: integerKey(config, 'port', 1, 65535),
    keyPrefix: config['key.prefix'] ?? `${ids.nodeId}:${ids.moduleId}:`,
  };
}

function integerKey(
  config: ModuleConfig,
  key: string,
  min: number,
  max: number,
  fallback?: number,
): number {
  const text = config[key];
  if (text === undefined) {
    if (fallback === undefined) throw new Error(`config.${key} is required`);
    return fallback;
  }
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new Error(`config.${key} must be an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

/** True when a change of settings needs a new Redis connection. */
export function needsReconnect(before: RedisCacheSettings, after: RedisCacheSettings): boolean {
  return before.redisUrl !== after.redisUrl || before.redisPassword !== after.redisPassword;
}

/** The URL as `GET /` and logs show it: never a password, even one written into the URL. */
export function urlWithoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
