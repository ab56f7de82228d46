/** What to do with a browser's command. */
export type FloodVerdict = 'accept' | 'warn' | 'drop' | 'close';

export interface FloodLimits {
  /** Commands a socket may send at once. */
  burst: number;
  /** Commands per second it may keep sending. */
  perSecond: number;
  /** Commands dropped in a row before the socket is closed. */
  maxDropped: number;
}

/** Far above what a chat or a call's signalling sends (CppComet's own test sends 21 messages at once). */
export const FLOOD_LIMITS: FloodLimits = { burst: 200, perSecond: 100, maxDropped: 100 };

/**
 * Per-socket rate limit on browser commands, a token bucket. Over the limit, commands are dropped (the
 * first one of a run gets `warn`, so the browser can be told); a socket that keeps on is closed.
 */
export class FloodGuard {
  private tokens: number;
  private updatedAt: number;
  private dropped = 0;

  constructor(
    private readonly limits: FloodLimits = FLOOD_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = limits.burst;
    this.updatedAt = now();
  }

  check(): FloodVerdict {
    const now = this.now();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.updatedAt) * this.limits.perSecond) / 1000);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens--;
      this.dropped = 0;
      return 'accept';
    }
    this.dropped++;
    if (this.dropped > this.limits.maxDropped) return 'close';
    return this.dropped === 1 ? 'warn' : 'drop';
  }
}
