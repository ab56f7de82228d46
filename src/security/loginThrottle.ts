/**
 * Exponential back-off of failed logins, per address and per user: after a few free failures, each further
 * failure closes the address (and the user) for twice as long as the last, up to a cap. An attempt while
 * closed is refused without looking at the credentials, so guessing costs time however many connections
 * the guesser opens. An address that logged in as a user lately is judged by its own record alone for that
 * user: a guesser elsewhere, failing as that user, cannot lock out the backend or browser that works.
 * Records are forgotten after `forgetMs` without a failure; memory is bounded: past `maxKeys` the oldest go.
 */
export interface LoginThrottleOptions {
  /** Failures without any delay (a user mistyping). */
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetMs: number;
  /** How long a successful login keeps its address trusted for its user. */
  trustMs: number;
  maxKeys: number;
  now: () => number;
}

const DEFAULTS: LoginThrottleOptions = {
  freeFailures: 3,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  forgetMs: 15 * 60_000,
  trustMs: 24 * 60 * 60_000,
  maxKeys: 100_000,
  now: Date.now,
};

interface Failures {
  count: number;
  lastAt: number;
  closedUntil: number;
}

export class LoginThrottle {
  private readonly options: LoginThrottleOptions;
  /** Insertion order is recency order: a key is re-inserted at each failure. */
  private readonly failures = new Map<string, Failures>();
  /** `address user` pairs that logged in, with the time; the same order and bound. */
  private readonly trusted = new Map<string, number>();

  constructor(options: Partial<LoginThrottleOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Milliseconds until `address` may try to log in as `user` (undefined: no user to blame) again; 0: now. */
  retryAfterMs(address: string, user?: string): number {
    const now = this.options.now();
    let wait = 0;
    for (const key of this.keys(address, user, now)) {
      const entry = this.current(key, now);
      if (entry) wait = Math.max(wait, entry.closedUntil - now);
    }
    return wait;
  }

  failed(address: string, user?: string): void {
    const now = this.options.now();
    for (const key of this.keys(address, user, now)) {
      const count = (this.current(key, now)?.count ?? 0) + 1;
      const over = count - this.options.freeFailures;
      const delay = over > 0 ? Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(over - 1, 30)) : 0;
      this.failures.delete(key);
      this.failures.set(key, { count, lastAt: now, closedUntil: now + delay });
    }
    bound(this.failures, this.options.maxKeys);
  }

  /** Clears the user's record and trusts the address for them; the address keeps its own (one right login must not wash many wrong ones). */
  succeeded(address: string, user: string): void {
    this.failures.delete(`user:${user}`);
    const pair = `${address} ${user}`;
    this.trusted.delete(pair);
    this.trusted.set(pair, this.options.now());
    bound(this.trusted, this.options.maxKeys);
  }

  get size(): number {
    return this.failures.size;
  }

  private keys(address: string, user: string | undefined, now: number): string[] {
    if (user === undefined) return [`addr:${address}`];
    const trustedAt = this.trusted.get(`${address} ${user}`);
    return trustedAt !== undefined && now - trustedAt < this.options.trustMs ? [`addr:${address}`] : [`addr:${address}`, `user:${user}`];
  }

  private current(key: string, now: number): Failures | undefined {
    const entry = this.failures.get(key);
    if (entry && now - entry.lastAt > this.options.forgetMs && now >= entry.closedUntil) {
      this.failures.delete(key);
      return undefined;
    }
    return entry;
  }
}

function bound(map: Map<string, unknown>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value!);
}
