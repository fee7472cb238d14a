import { createClient } from 'redis';
import type { RedisCacheSettings } from './redis-cache.config';

export type RedisConnection = ReturnType<typeof createClient>;

/** How long a first connection may take before the URL counts as unusable. */
const CONNECT_TIMEOUT_MS = 2000;

/**
 * Connects to Redis, or throws when it cannot: the first connection fails fast, so a bad
 * `redis.url` is refused while the module keeps its old connection. Once connected, a lost
 * connection is retried with backoff (up to 2 s apart) for as long as the client lives. Commands
 * fail at once while disconnected (no offline queue): a cache answers 503, it does not hang.
 */
export async function connectRedis(settings: RedisCacheSettings): Promise<RedisConnection> {
  let connected = false;
  const client = createClient({
    url: settings.redisUrl,
    password: settings.redisPassword,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries: number) => connected && Math.min(2 ** retries * 50, 2000),
    },
  });
  // node-redis emits every socket error, and Node throws an 'error' nobody listens to. Failures
  // of the first connect reject connect() below; later ones go to the module's own listener.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    if (client.isOpen) client.destroy();
    throw new Error(`cannot connect to ${settings.redisUrl}: ${messageOf(err)}`);
  }
  connected = true;
  return client;
}

/** Closes a client: waits for commands in flight when connected, drops it otherwise. */
export async function closeRedis(client: RedisConnection): Promise<void> {
  if (!client.isOpen) return;
  if (client.isReady) await client.close();
  else client.destroy();
}

/** Resolves when Redis answers PING within `ms`; rejects naming what went wrong otherwise. */
export async function pingWithin(client: RedisConnection, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer PING within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([client.ping(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error's message. (A module-type package depends on nothing of Plexus at run time.) */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
