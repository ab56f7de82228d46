/** What to do with a browser's command. */
export type FloodVerdict = 'accept' | 'warn' | 'drop' | 'close';

/** A rate: `burst` at once, refilled at `perSecond`. */
export interface Rate {
  burst: number;
  perSecond: number;
}

export interface FloodLimits extends Rate {
  /** Commands dropped in a row before the socket is closed. */
  maxDropped: number;
}

/** Far above what a chat or a call's signalling sends (CppComet's own test sends 21 messages at once). */
export const FLOOD_LIMITS: FloodLimits = { burst: 200, perSecond: 100, maxDropped: 100 };

/**
 * A token bucket. A spender may go into debt: anything is allowed while a token is left, so a cost bigger
 * than the burst still passes once, and the spender then waits until the debt is paid back.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: Rate,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = rate.burst;
    this.updatedAt = now();
  }

  /** True while at least one token is left. */
  allows(): boolean {
    this.refill();
    return this.tokens >= 1;
  }

  spend(cost: number): void {
    this.refill();
    this.tokens -= cost;
  }

  /** Tokens left now (negative: a debt); at the burst, the bucket remembers nothing worth keeping. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.updatedAt) * this.rate.perSecond) / 1000);
    this.updatedAt = now;
  }
}

/**
 * Per-socket rate limit on browser commands. Over the limit, commands are dropped (the first one of a run
 * gets `warn`, so the browser can be told); a socket that keeps on is closed.
 */
export class FloodGuard {
  private readonly bucket: TokenBucket;
  private dropped = 0;

  constructor(
    private readonly limits: FloodLimits = FLOOD_LIMITS,
    now: () => number = Date.now,
  ) {
    this.bucket = new TokenBucket(limits, now);
  }

  check(): FloodVerdict {
    if (this.bucket.allows()) {
      this.bucket.spend(1);
      this.dropped = 0;
      return 'accept';
    }
    this.dropped++;
    if (this.dropped > this.limits.maxDropped) return 'close';
    return this.dropped === 1 ? 'warn' : 'drop';
  }
}
