import { Inject, Injectable } from '@nestjs/common';
import { AdminToken, Database, findLiveTokenByDigest, tokenDigest } from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE } from '../infra/injection-tokens';

const TTL_MS = 5_000;

/**
 * Resolves bearer tokens to named tokens, remembering answers for a few seconds so that an API
 * call costs no extra Postgres round trip. A revocation is therefore seen at once by the replica
 * that made it and within TTL_MS by the others.
 */
@Injectable()
export class TokenCache {
  private readonly entries = new Map<string, { token: AdminToken | null; until: number }>();

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly breakers: DependencyBreakers,
  ) {}

  async resolve(token: string): Promise<AdminToken | null> {
    const digest = tokenDigest(token);
    const hit = this.entries.get(digest);
    if (hit && hit.until > Date.now()) return hit.token;
    const found = await this.breakers.postgres(() => findLiveTokenByDigest(this.db, digest));
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(digest, { token: found, until: Date.now() + TTL_MS });
    return found;
  }

  forget(id: string) {
    for (const [digest, entry] of this.entries)
      if (entry.token?.id === id) this.entries.delete(digest);
  }
}
