import type { TokenInfo, User } from "./identity-store.js";

/** A token and its user as the database last answered for them, and until when that answer is trusted. */
export interface CachedToken {
  info: TokenInfo;
  user: User;
  /** Epoch ms after which the database is asked again. */
  until: number;
}

/**
 * Verified tokens by hash, so authenticating a request does not read the database every time (it did
 * two reads per request on the serving hot path). Entries live `ttlMs`: a revocation made through this
 * process drops its entry at once (`forgetToken`); one made by another process sharing the database
 * (another replica) is seen after at most `ttlMs`. Expiry is never cached: the caller checks
 * `info.expiresAt` against the clock on every request.
 */
export class TokenCache {
  private readonly byHash = new Map<string, CachedToken>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(hash: string, now: number): CachedToken | undefined {
    const entry = this.byHash.get(hash);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.byHash.delete(hash);
      return undefined;
    }
    return entry;
  }

  set(hash: string, info: TokenInfo, user: User, now: number): void {
    if (this.ttlMs <= 0) return;
    // Many distinct tokens within one TTL is unusual; starting over bounds memory without bookkeeping.
    if (this.byHash.size >= this.maxEntries) this.byHash.clear();
    this.byHash.set(hash, { info, user, until: now + this.ttlMs });
  }

  forgetToken(tokenId: string): void {
    for (const [hash, entry] of this.byHash) if (entry.info.id === tokenId) this.byHash.delete(hash);
  }
}
