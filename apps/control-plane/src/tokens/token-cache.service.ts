import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { NatsConnection, Subscription } from 'nats';
import { TOKEN_REVOKED } from '@plexus/bus';
import { AdminToken, Database, findLiveTokenByDigest, tokenDigest } from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE, NATS } from '../infra/injection-tokens';

/**
 * How long an answer is remembered. Revocations are announced on TOKEN_REVOKED and dropped at
 * once; this bounds how long a replica that missed the announcement (lost message) still accepts
 * a revoked token.
 */
export const TOKEN_CACHE_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

/**
 * Resolves bearer tokens to named tokens, remembering answers for TOKEN_CACHE_TTL_MS so that an
 * API call costs no extra Postgres round trip. A revocation is announced over core NATS and every
 * replica (this one included) drops the token at once; after a NATS reconnect, when
 * announcements may have been missed, the whole cache is dropped.
 */
@Injectable()
export class TokenCacheService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Tokens');
  private readonly entries = new Map<string, { token: AdminToken | null; until: number }>();
  /** Bumped by every revocation heard: a lookup that overlapped one does not cache its answer. */
  private revocations = 0;
  private subscription: Subscription | null = null;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly breakers: DependencyBreakers,
    @Inject(NATS) private readonly nc: NatsConnection,
  ) {}

  onModuleInit() {
    this.subscription = this.nc.subscribe(TOKEN_REVOKED, {
      callback: (err, msg) => {
        if (err) return;
        const tokenId = (() => {
          try {
            return (msg.json() as { tokenId?: unknown }).tokenId;
          } catch {
            return undefined;
          }
        })();
        if (typeof tokenId === 'string') this.forget(tokenId);
        else this.forgetAll(); // unreadable: dropping everything is always safe
      },
    });
    void (async () => {
      for await (const status of this.nc.status())
        if (status.type === 'reconnect') this.forgetAll();
    })();
  }

  onModuleDestroy() {
    this.subscription?.unsubscribe();
  }

  async resolve(token: string): Promise<AdminToken | null> {
    const digest = tokenDigest(token);
    const hit = this.entries.get(digest);
    if (hit && hit.until > Date.now()) return hit.token;
    const revocations = this.revocations;
    const found = await this.breakers.postgres(() => findLiveTokenByDigest(this.db, digest));
    // A revocation heard meanwhile may have committed after this read: do not keep its answer.
    if (revocations === this.revocations) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(digest, { token: found, until: Date.now() + TOKEN_CACHE_TTL_MS });
    }
    return found;
  }

  /** After a committed revocation: drops the token here and tells every other replica. */
  revoked(id: string) {
    this.forget(id);
    try {
      this.nc.publish(TOKEN_REVOKED, JSON.stringify({ tokenId: id }));
    } catch (err) {
      this.logger.warn(
        `could not announce the revocation of token ${id} (other replicas drop it within ${TOKEN_CACHE_TTL_MS} ms): ${(err as Error).message}`,
      );
    }
  }

  private forget(id: string) {
    this.revocations++;
    for (const [digest, entry] of this.entries)
      if (entry.token?.id === id) this.entries.delete(digest);
  }

  private forgetAll() {
    this.revocations++;
    this.entries.clear();
  }
}
