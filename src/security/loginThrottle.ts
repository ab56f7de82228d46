/**
 * Exponential back-off of failed logins, per address and per user: after a few free failures, each further
 * failure closes the address (and the user) for twice as long as the last, up to a cap. An attempt while
 * closed is refused without looking at the credentials, so guessing costs time however many connections
 * the guesser opens, and attempts of one address or user are judged one after another (`serialize`), so
 * guesses sent all at once each see the failures before them. An address that logged in as a user lately is
 * judged for that user by the record of that pair alone: a guesser elsewhere failing as that user, or one on
 * the same address failing as others, cannot lock out the backend or browser that works.
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
  /** The attempt last queued for each address and user key; it settles when that attempt has been judged. */
  private readonly inProgress = new Map<string, Promise<void>>();

  constructor(options: Partial<LoginThrottleOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /**
   * Runs one login attempt once every earlier attempt of the same address or user has been judged: without it,
   * a burst of guesses passes the `retryAfterMs` check together before the first failure is counted.
   */
  async serialize<T>(address: string, user: string | undefined, attempt: () => Promise<T>): Promise<T> {
    const keys = user === undefined ? [`addr:${address}`] : [`addr:${address}`, `user:${user}`];
    const earlier = keys.map((key) => this.inProgress.get(key));
    let judged!: () => void;
    const done = new Promise<void>((resolve) => (judged = resolve));
    for (const key of keys) this.inProgress.set(key, done);
    try {
      await Promise.all(earlier);
      return await attempt();
    } finally {
      judged();
      for (const key of keys) if (this.inProgress.get(key) === done) this.inProgress.delete(key);
    }
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
    const pair = `${address} ${user}`;
    this.failures.delete(`user:${user}`);
    this.failures.delete(`pair:${pair}`);
    this.trusted.delete(pair);
    this.trusted.set(pair, this.options.now());
    bound(this.trusted, this.options.maxKeys);
  }

  get size(): number {
    return this.failures.size;
  }

  private keys(address: string, user: string | undefined, now: number): string[] {
    if (user === undefined) return [`addr:${address}`];
    const pair = `${address} ${user}`;
    const trustedAt = this.trusted.get(pair);
    return trustedAt !== undefined && now - trustedAt < this.options.trustMs ? [`pair:${pair}`] : [`addr:${address}`, `user:${user}`];
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
