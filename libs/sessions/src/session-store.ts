import { KV, KvEntry, NatsConnection } from 'nats';
import { ResilientWatch } from '@plexus/bus';
import { openSessionsBucket } from './bucket';
import { expiresAt, isGarbage, isLive, needsTouch } from './expiry';
import { realmKey, realmProblem } from './realm';
import { decodeRecord, encodeRecord, SessionRecord } from './session-record';
import { isWellFormedToken, newSessionToken, sessionIdOf, TOKEN_LENGTH } from './tokens';
import { errorText, Logger, silentLogger } from '@plexus/common';

/** A live session as the store shows it (never the token). Times in ms since the epoch. */
export interface SessionInfo {
  /** SHA-256 of the token, base64url: safe to log and to report. */
  id: string;
  user: string;
  realm: string;
  createdAt: number;
  lastActivityAt: number;
  expiresAt: number;
  attributes: Record<string, string>;
}

export interface CreatedSession {
  /** The bearer token: give it to the client, keep it nowhere. */
  token: string;
  session: SessionInfo;
}

export type DropReason = 'revoked' | 'expired' | 'vanished';

/** A session left this process's cache. `hrtime` is process.hrtime.bigint() of that moment. */
export interface SessionDropped {
  id: string;
  user: string;
  realm: string;
  reason: DropReason;
  hrtime: bigint;
}

export interface SessionStoreOptions {
  realm: string;
  /** Idle time after which a session expires (sliding). */
  timeoutMs: number;
  logger?: Logger;
  /** Wall clock in ms (default Date.now); tests pass their own. */
  now?: () => number;
  /** Called when a session leaves the cache: revoked (here or anywhere), expired, vanished. */
  onDropped?: (event: SessionDropped) => void;
  /** How long open() waits for the first full load of the realm (default 20 s). */
  openTimeoutMs?: number;
  /** Timeout of one KV request (default 5 s). */
  requestTimeoutMs?: number;
  /** How often expired sessions are collected (default: a tenth of the timeout, 1 s to 60 s). */
  sweepIntervalMs?: number;
  /** Cache misses looked up in the bucket at once; more are refused (default 64). */
  maxConcurrentLookups?: number;
}

interface Entry {
  id: string;
  user: string;
  createdAt: number;
  activeAt: number;
  localActiveAt: number;
  attributes: Record<string, string>;
  /** Bucket revision of the value this entry mirrors. */
  revision: number;
  /** Watch generation that last confirmed the entry (see initialized). */
  generation: number;
  touching: boolean;
  /** No touch before this time (after a failed write). */
  touchAfter: number;
  purging: boolean;
}

/** How long a revoked session's ID is remembered, to ignore late answers to lookups. */
const TOMBSTONE_MS = 120_000;

function positiveTimeout(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0)
    throw new Error(`session timeout must be a positive number of ms (got ${ms})`);
  return ms;
}

/**
 * The sessions of one realm, shared through the JetStream KV bucket SESSIONS_BUCKET by every
 * process that opens a store for that realm.
 *
 * Every store keeps all sessions of its realm in memory, kept current by a KV watch on the realm's
 * keys, so checking a token is a hash and a map lookup. A revoke deletes the key; every other
 * store's watch drops the session as soon as the delete reaches it (milliseconds). A token the
 * cache does not know (a session created elsewhere a moment ago) is looked up in the bucket
 * (at most maxConcurrentLookups at a time; beyond that, and while NATS is down, it is refused).
 * After a NATS reconnect the watch is re-opened and the cache re-synchronised (sessions deleted
 * meanwhile are dropped). While NATS is down, known sessions keep working from the cache, but
 * nothing can be created or revoked (those calls throw).
 *
 * Keys are `<realm key>.<session ID>` (the ID is SHA-256 of the token); values are JSON
 * SessionRecords. Nothing in the bucket lets a reader log in.
 */
export class SessionStore {
  private readonly cache = new Map<string, Entry>();
  /** Session ID -> when it was deleted (this process's clock). */
  private readonly tombstones = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly key: string;
  private timeout: number;
  private watch: ResilientWatch | null = null;
  private closed = false;
  private lookups = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private ready!: { resolve: () => void; promise: Promise<void> };

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly options: SessionStoreOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.key = realmKey(options.realm);
    this.timeout = positiveTimeout(options.timeoutMs);
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.ready = { resolve, promise };
  }

  /**
   * Opens the store of `options.realm` on this connection (creating the bucket when missing) and
   * resolves once every stored session of the realm is in the cache.
   */
  static async open(nc: NatsConnection, options: SessionStoreOptions): Promise<SessionStore> {
    const problem = realmProblem(options.realm);
    if (problem) throw new Error(`${problem} (got "${options.realm}")`);
    positiveTimeout(options.timeoutMs);
    const kv = await openSessionsBucket(nc, options.requestTimeoutMs);
    const store = new SessionStore(nc, kv, options);
    store.start();
    const limit = options.openTimeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.ready.promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `the sessions of realm "${options.realm}" did not load within ${limit} ms`,
                ),
              ),
            limit,
          );
        }),
      ]);
    } catch (err) {
      await store.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return store;
  }

  get realm(): string {
    return this.options.realm;
  }

  /** The realm as it appears in keys and subjects. */
  get realmKey(): string {
    return this.key;
  }

  get timeoutMs(): number {
    return this.timeout;
  }

  /** Changes the idle timeout; applies at once to every session, including existing ones. */
  setTimeoutMs(ms: number) {
    this.timeout = positiveTimeout(ms);
    this.startSweeper();
  }

  /** Sessions in the cache (live or expired but not yet collected). */
  get size(): number {
    return this.cache.size;
  }

  /** False while the watch of the shared bucket is down (sessions made elsewhere go unseen). */
  get connected(): boolean {
    return this.watch?.connected ?? true;
  }

  /** Creates a session for `user`; the token is returned once and stored nowhere. */
  async create(user: string, attributes: Record<string, string> = {}): Promise<CreatedSession> {
    if (this.closed) throw new Error('the session store is closed');
    const token = newSessionToken();
    const id = sessionIdOf(token);
    const now = this.now();
    const record: SessionRecord = { v: 1, user, createdAt: now, activeAt: now, attributes };
    const revision = await this.kv.create(this.keyOf(id), encodeRecord(record));
    const entry = this.remember(id, record, revision);
    entry.localActiveAt = now;
    return { token, session: this.info(entry) };
  }

  /**
   * Checks a token against the cache alone, counting the check as activity of the session:
   * its info when live, null when not (unknown shape, revoked, expired), undefined when the cache
   * does not know it (it may have been created elsewhere a moment ago: use validate()).
   */
  lookup(token: string): SessionInfo | null | undefined {
    if (token.length !== TOKEN_LENGTH) return null;
    const id = sessionIdOf(token);
    const entry = this.cache.get(id);
    if (entry) return this.use(entry);
    // Only a miss pays for the full shape check: a hit proves the token is one we issued.
    return !isWellFormedToken(token) || this.tombstones.has(id) ? null : undefined;
  }

  /** Checks a token: from the cache, or for an unknown one from the bucket. Counts as activity. */
  async validate(token: string): Promise<SessionInfo | null> {
    const cached = this.lookup(token);
    if (cached !== undefined) return cached;
    const entry = await this.fetch(sessionIdOf(token));
    return entry ? this.use(entry) : null;
  }

  /** The session of a token without counting activity or asking the bucket (diagnostics, tests). */
  peek(token: string): SessionInfo | null {
    if (!isWellFormedToken(token)) return null;
    const entry = this.cache.get(sessionIdOf(token));
    return entry && isLive(entry, this.now(), this.timeout) ? this.info(entry) : null;
  }

  /**
   * Ends the session of a token everywhere: drops it here at once and deletes it from the
   * bucket, which every other process sees through its watch. Resolves true when there was such
   * a session (live or not yet collected); throws when the bucket cannot be written (the session
   * is then refused here but may still be accepted elsewhere).
   */
  async revoke(token: string): Promise<boolean> {
    if (!isWellFormedToken(token)) return false;
    const id = sessionIdOf(token);
    const known = this.cache.get(id) ?? (this.tombstones.has(id) ? null : await this.fetch(id));
    if (!known) return false;
    this.drop(id, 'revoked');
    await this.kv.delete(this.keyOf(id));
    return true;
  }

  /**
   * Collects expired sessions: deletes (purges) from the bucket those no process can consider
   * live any more. Runs on a timer; tests call it directly.
   */
  async sweep(): Promise<void> {
    const now = this.now();
    for (const [id, at] of this.tombstones) if (now - at > TOMBSTONE_MS) this.tombstones.delete(id);
    const work: Promise<void>[] = [];
    for (const entry of this.cache.values()) {
      if (entry.purging || !isGarbage(entry.activeAt, now, this.timeout)) continue;
      entry.purging = true;
      // Only if nobody touched it since: a conditional purge never removes a session in use.
      const purge = this.kv
        .purge(this.keyOf(entry.id), { previousSeq: entry.revision })
        .catch(() => undefined)
        .finally(() => (entry.purging = false));
      work.push(this.track(purge));
    }
    await Promise.all(work);
  }

  /** Waits for the writes this store has started (activity updates, purges). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    let timer: NodeJS.Timeout | undefined;
    await Promise.all([
      this.watch?.stop(),
      Promise.race([
        this.flush().catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000))),
      ]),
    ]);
    clearTimeout(timer);
    this.cache.clear();
  }

  // --- internals ---

  /** The watch's current (re)start: sessions it has not confirmed are dropped (see initialized). */
  private get generation(): number {
    return this.watch?.generation ?? 0;
  }

  private keyOf(id: string) {
    return `${this.key}.${id}`;
  }

  private info(entry: Entry): SessionInfo {
    return {
      id: entry.id,
      user: entry.user,
      realm: this.options.realm,
      createdAt: entry.createdAt,
      lastActivityAt: Math.max(entry.activeAt, entry.localActiveAt),
      expiresAt: expiresAt(entry, this.timeout),
      attributes: entry.attributes,
    };
  }

  /** Activity on a cached session: null when it is no longer live; writes it when due. */
  private use(entry: Entry): SessionInfo | null {
    const now = this.now();
    if (!isLive(entry, now, this.timeout)) return null;
    entry.localActiveAt = now;
    if (!entry.touching && now >= entry.touchAfter && needsTouch(entry, now, this.timeout))
      this.touch(entry, now);
    return this.info(entry);
  }

  /**
   * Writes the activity, only over the revision this process has seen: a revoke or a newer
   * touch elsewhere wins, and a revoked session is never brought back.
   */
  private touch(entry: Entry, now: number) {
    entry.touching = true;
    const record: SessionRecord = {
      v: 1,
      user: entry.user,
      createdAt: entry.createdAt,
      activeAt: now,
      attributes: entry.attributes,
    };
    const write = this.kv
      .update(this.keyOf(entry.id), encodeRecord(record), entry.revision)
      .then(
        (revision) => {
          if (revision > entry.revision) {
            entry.revision = revision;
            entry.activeAt = Math.max(entry.activeAt, now);
          }
        },
        (err: unknown) => {
          // "wrong last sequence": touched or revoked elsewhere; the watch brings the news.
          entry.touchAfter = this.now() + 1000;
          if (!/wrong last sequence/i.test(errorText(err)))
            this.logger.warn('writing session activity failed', {
              realm: this.options.realm,
              error: errorText(err),
            });
        },
      )
      .finally(() => (entry.touching = false));
    this.track(write);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work)).catch(() => undefined);
    return work;
  }

  /** Looks an unknown session up in the bucket and caches it; null when there is none. */
  private async fetch(id: string): Promise<Entry | null> {
    if (this.closed || !this.connected) return null;
    if (this.lookups >= (this.options.maxConcurrentLookups ?? 64)) return null;
    this.lookups++;
    let found: KvEntry | null;
    try {
      found = await this.kv.get(this.keyOf(id));
    } catch (err) {
      this.logger.warn('looking a session up failed', {
        realm: this.options.realm,
        error: errorText(err),
      });
      return null;
    } finally {
      this.lookups--;
    }
    // The watch may have delivered it (or its revoke) while the lookup was under way.
    const cached = this.cache.get(id);
    if (cached) return cached;
    if (!found || found.operation !== 'PUT' || this.tombstones.has(id)) return null;
    const record = decodeRecord(found.string());
    return record ? this.remember(id, record, found.revision) : null;
  }

  /** Puts (or refreshes) a session in the cache from a bucket value of the given revision. */
  private remember(id: string, record: SessionRecord, revision: number): Entry {
    const entry = this.cache.get(id);
    if (entry) {
      entry.generation = this.generation;
      if (revision > entry.revision) {
        entry.revision = revision;
        entry.activeAt = Math.max(entry.activeAt, record.activeAt);
        entry.user = record.user;
        entry.attributes = record.attributes;
      }
      return entry;
    }
    const created: Entry = {
      id,
      user: record.user,
      createdAt: record.createdAt,
      activeAt: record.activeAt,
      localActiveAt: 0,
      attributes: record.attributes,
      revision,
      generation: this.generation,
      touching: false,
      touchAfter: 0,
      purging: false,
    };
    this.cache.set(id, created);
    return created;
  }

  /**
   * Removes a session from the cache. `remember` keeps its ID for a while (see fetch): for local
   * revokes and for deletes the watch brings as news, not for the old ones a re-opened watch
   * replays (a realm may have many of those).
   */
  private drop(id: string, reason: DropReason, remember = reason !== 'vanished') {
    const entry = this.cache.get(id);
    if (remember) this.tombstones.set(id, this.now());
    if (!entry) return;
    this.cache.delete(id);
    const hrtime = process.hrtime.bigint();
    try {
      this.options.onDropped?.({ id, user: entry.user, realm: this.options.realm, reason, hrtime });
    } catch (err) {
      this.logger.error('onDropped callback failed', { error: errorText(err) });
    }
  }

  private onEntry(e: KvEntry) {
    const id = e.key.slice(this.key.length + 1);
    if (e.operation === 'PUT') {
      const record = decodeRecord(e.string());
      if (record) this.remember(id, record, e.revision);
      else this.logger.warn('ignoring a session value that cannot be read', { realm: this.realm });
    } else {
      const recent = Date.now() - e.created.getTime() < TOMBSTONE_MS;
      this.drop(id, e.operation === 'DEL' ? 'revoked' : 'expired', recent);
    }
  }

  /** The watch of `generation` has delivered every stored session: forget those it did not. */
  private initialized(generation: number) {
    for (const [id, entry] of this.cache)
      if (entry.generation < generation) this.drop(id, 'vanished');
    this.ready.resolve();
  }

  private start() {
    // Each (re)start of the watch, after a reconnect too, re-reads every session of the realm.
    this.watch = ResilientWatch.start(this.nc, {
      bucket: async () => this.kv,
      key: `${this.key}.*`,
      onEntry: (e) => this.onEntry(e),
      onCurrent: (generation) => this.initialized(generation),
      logger: this.logger,
      logFields: { realm: this.realm, watching: 'sessions' },
    });
    this.startSweeper();
  }

  private startSweeper() {
    if (this.closed) return;
    if (this.sweeper) clearInterval(this.sweeper);
    const every =
      this.options.sweepIntervalMs ?? Math.min(Math.max(this.timeout / 10, 1000), 60_000);
    this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), every);
    this.sweeper.unref();
  }
}
