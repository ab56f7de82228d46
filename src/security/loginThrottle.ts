/**
 * Exponential back-off of failed logins, per key (an address, a user): after a few free failures, each
 * further failure closes the key for twice as long as the last, up to a cap. An attempt while a key is
 * closed is refused without looking at the credentials, so guessing costs time however many connections
 * the guesser opens. A key forgets its failures after `forgetMs` without one. Memory is bounded: past
 * `maxKeys` the oldest entries go.
 */
export interface LoginThrottleOptions {
  /** Failures without any delay (a user mistyping). */
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetMs: number;
  maxKeys: number;
  now: () => number;
}

const DEFAULTS: LoginThrottleOptions = {
  freeFailures: 3,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  forgetMs: 15 * 60_000,
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
  private readonly keys = new Map<string, Failures>();

  constructor(options: Partial<LoginThrottleOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Milliseconds until every one of `keys` accepts an attempt again; 0 when they all do now. */
  retryAfterMs(keys: readonly string[]): number {
    const now = this.options.now();
    let wait = 0;
    for (const key of keys) {
      const entry = this.current(key, now);
      if (entry) wait = Math.max(wait, entry.closedUntil - now);
    }
    return wait;
  }

  failed(keys: readonly string[]): void {
    const now = this.options.now();
    for (const key of keys) {
      const count = (this.current(key, now)?.count ?? 0) + 1;
      const over = count - this.options.freeFailures;
      const delay = over > 0 ? Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(over - 1, 30)) : 0;
      this.keys.delete(key);
      this.keys.set(key, { count, lastAt: now, closedUntil: now + delay });
    }
    while (this.keys.size > this.options.maxKeys) this.keys.delete(this.keys.keys().next().value!);
  }

  /** A success clears the user's record; an address keeps its own (one right login must not wash many wrong ones). */
  succeeded(keys: readonly string[]): void {
    for (const key of keys) this.keys.delete(key);
  }

  get size(): number {
    return this.keys.size;
  }

  private current(key: string, now: number): Failures | undefined {
    const entry = this.keys.get(key);
    if (entry && now - entry.lastAt > this.options.forgetMs && now >= entry.closedUntil) {
      this.keys.delete(key);
      return undefined;
    }
    return entry;
  }
}
