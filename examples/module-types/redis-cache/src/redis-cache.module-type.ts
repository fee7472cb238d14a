import * as http from 'node:http';
import type {
  ConfigChange,
  ModuleContext,
  ModuleHealth,
  ModuleInstance,
  ModuleType,
  ReconfigureResult,
} from '@plexus/module-sdk';
import { BodyTooLargeError, closeListener, listen, readBody } from './http-listener';
import {
  needsReconnect,
  readRedisCacheSettings,
  RedisCacheSettings,
  redisCacheSchema,
  urlWithoutPassword,
} from './redis-cache.config';
import {
  closeRedis,
  connectRedis,
  messageOf,
  pingWithin,
  RedisConnection,
} from './redis-connection';

/** `health()` is DOWN when Redis does not answer PING within this. */
const HEALTH_PING_MS = 500;
const MAX_VALUE_BYTES = 1024 * 1024;
const CACHE_PATH = '/cache/';

type Send = (status: number, body: unknown, contentType?: string) => void;

/**
 * An HTTP cache endpoint in front of Redis: `PUT /cache/:key` stores the body for `ttl` seconds,
 * `GET /cache/:key` answers it (404 when absent or expired), `GET /` shows what the module runs.
 *
 * Every change applies in place. `ttl` and `key.prefix` are read per request. A new `redis.url`
 * or `redis.password` connects a new client first and swaps it in only once it answers; a new
 * `port` binds the new port first and only then closes the old one. Either failing throws, and
 * the module keeps serving with its old connection and port. (Rebinding in place rather than
 * answering 'restart' keeps the Redis connection and the counters, and a taken port leaves the
 * module up on its old port instead of stopped.)
 */
class RedisCache implements ModuleInstance {
  private keysStored = 0;
  private keysServed = 0;
  private misses = 0;
  private lastError: string | null = null;
  /** The current client lost Redis and has not reconnected yet (logs once per outage). */
  private connectionLost = false;

  private constructor(
    private ctx: ModuleContext,
    private settings: RedisCacheSettings,
    private client: RedisConnection,
    private server: http.Server,
  ) {}

  static async start(ctx: ModuleContext): Promise<RedisCache> {
    const settings = readRedisCacheSettings(ctx.config, ctx);
    const client = await connectRedis(settings);
    const server = http.createServer();
    try {
      await listen(server, settings.port + ctx.portOffset);
    } catch (err) {
      await closeRedis(client);
      throw err;
    }
    const cache = new RedisCache(ctx, settings, client, server);
    cache.watch(client);
    server.on('request', (req, res) => void cache.handle(req, res));
    ctx.logger.log('redis-cache serving', {
      port: settings.port + ctx.portOffset,
      redisUrl: urlWithoutPassword(settings.redisUrl),
    });
    return cache;
  }

  async reconfigure(ctx: ModuleContext, change: ConfigChange): Promise<ReconfigureResult> {
    const next = readRedisCacheSettings(change.config, ctx);
    const port = next.port + ctx.portOffset;
    const rebind = port !== this.settings.port + this.ctx.portOffset;
    // Everything that can fail happens before anything is swapped, so a failure changes nothing.
    let client: RedisConnection | undefined;
    let server: http.Server | undefined;
    try {
      if (needsReconnect(this.settings, next)) client = await connectRedis(next);
      if (rebind) {
        server = http.createServer((req, res) => void this.handle(req, res));
        await listen(server, port);
      }
    } catch (err) {
      if (client) await closeRedis(client);
      ctx.logger.warn('redis-cache keeps its old config', { error: messageOf(err) });
      throw err;
    }
    const [oldClient, oldServer] = [this.client, this.server];
    this.ctx = ctx;
    this.settings = next;
    if (client) {
      this.client = client;
      this.watch(client);
      this.connectionLost = false;
      await closeRedis(oldClient);
    }
    if (server) {
      this.server = server;
      await closeListener(oldServer);
    }
    ctx.logger.log('redis-cache applied a config change', {
      changedKeys: change.changedKeys,
      reconnected: client !== undefined,
      port,
    });
    return 'applied';
  }

  async stop(): Promise<void> {
    await closeListener(this.server);
    await closeRedis(this.client);
  }

  async health(): Promise<ModuleHealth> {
    try {
      await pingWithin(this.client, HEALTH_PING_MS);
      return { status: 'UP', details: this.details(true) };
    } catch (err) {
      this.lastError = messageOf(err);
      return { status: 'DOWN', details: this.details(false) };
    }
  }

  private details(connected: boolean) {
    return {
      connected,
      redisUrl: urlWithoutPassword(this.settings.redisUrl),
      keysServed: this.keysServed,
      keysStored: this.keysStored,
      misses: this.misses,
      lastError: this.lastError,
    };
  }

  /** Records the current client's errors; logs when it loses or regains Redis (not every retry). */
  private watch(client: RedisConnection) {
    client.on('error', (err: Error) => this.clientFailed(client, err));
    client.on('ready', () => {
      if (client !== this.client || !this.connectionLost) return;
      this.connectionLost = false;
      this.ctx.logger.log('redis-cache reconnected to Redis', {
        redisUrl: urlWithoutPassword(this.settings.redisUrl),
      });
    });
  }

  private clientFailed(client: RedisConnection, err: Error) {
    if (client !== this.client) return;
    if (!this.connectionLost)
      this.ctx.logger.warn('redis-cache lost its Redis connection', {
        redisUrl: urlWithoutPassword(this.settings.redisUrl),
        error: err.message,
      });
    this.connectionLost = true;
    this.lastError = err.message;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const send: Send = (status, body, contentType = 'application/json') => {
      res.writeHead(status, { 'content-type': contentType });
      res.end(contentType === 'application/json' ? JSON.stringify(body) : String(body));
    };
    const fail = (status: number, error: string, message: string) =>
      send(status, { statusCode: status, error, message });
    if (!this.ctx.mayServe())
      return fail(503, 'Service Unavailable', 'this process no longer serves this module');
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/' && req.method === 'GET') return send(200, this.about());
      if (path.startsWith(CACHE_PATH)) return await this.handleCache(req, path, send, fail);
      fail(404, 'Not Found', `no route ${req.method} ${path}`);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return fail(413, 'Payload Too Large', err.message);
      fail(503, 'Service Unavailable', `Redis is unavailable: ${messageOf(err)}`);
    }
  }

  private async handleCache(
    req: http.IncomingMessage,
    path: string,
    send: Send,
    fail: (status: number, error: string, message: string) => void,
  ) {
    let key: string;
    try {
      key = decodeURIComponent(path.slice(CACHE_PATH.length));
    } catch {
      return fail(400, 'Bad Request', 'the key is not valid percent-encoding');
    }
    if (!key || key.length > 512)
      return fail(400, 'Bad Request', 'the key must be 1 to 512 characters');
    const { keyPrefix, ttlSeconds } = this.settings;
    if (req.method === 'PUT') {
      const value = await readBody(req, MAX_VALUE_BYTES);
      await this.client.set(keyPrefix + key, value, {
        expiration: { type: 'EX', value: ttlSeconds },
      });
      this.keysStored++;
      return send(204, '', 'text/plain');
    }
    if (req.method === 'GET') {
      const value = await this.client.get(keyPrefix + key);
      if (value === null) {
        this.misses++;
        return fail(404, 'Not Found', `no value for key ${key}`);
      }
      this.keysServed++;
      return send(200, value, 'text/plain; charset=utf-8');
    }
    fail(405, 'Method Not Allowed', `${req.method} is not served; use GET or PUT`);
  }

  private about() {
    return {
      nodeId: this.ctx.nodeId,
      processId: this.ctx.processId,
      moduleId: this.ctx.moduleId,
      ttl: this.settings.ttlSeconds,
      redisUrl: urlWithoutPassword(this.settings.redisUrl),
      configVersion: this.ctx.configVersion(),
    };
  }
}

export const redisCache: ModuleType = {
  name: 'redis-cache',
  version: '0.1.0',
  description:
    'HTTP cache endpoint backed by Redis: PUT and GET /cache/:key with a TTL; ' +
    'TTL, key prefix, Redis URL and port changes apply in place',
  configSchema: redisCacheSchema,
  start: (ctx) => RedisCache.start(ctx),
};
