import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/security/loginThrottle.js';

describe('LoginThrottle', () => {
  const make = () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({ freeFailures: 2, baseDelayMs: 100, maxDelayMs: 1000, forgetMs: 60_000, maxKeys: 3, now: () => now });
    return { throttle, advance: (ms: number) => (now += ms) };
  };

  it('lets a few failures through, then doubles the wait at each one up to the cap', () => {
    const { throttle } = make();
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      throttle.failed(['ip:1']);
      waits.push(throttle.retryAfterMs(['ip:1']));
    }
    expect(waits).toEqual([0, 0, 100, 200, 400, 800, 1000, 1000]);
  });

  it('waits for the most closed of the keys, and a success clears only the keys it names', () => {
    const { throttle, advance } = make();
    for (let i = 0; i < 4; i++) throttle.failed(['ip:1', 'user:7']);
    expect(throttle.retryAfterMs(['ip:2', 'user:7'])).toBe(200);
    advance(150);
    expect(throttle.retryAfterMs(['ip:1'])).toBe(50);
    throttle.succeeded(['user:7']);
    expect(throttle.retryAfterMs(['ip:2', 'user:7'])).toBe(0);
    expect(throttle.retryAfterMs(['ip:1'])).toBe(50);
  });

  it('forgets failures after a quiet while and keeps at most maxKeys', () => {
    const { throttle, advance } = make();
    for (let i = 0; i < 5; i++) throttle.failed(['ip:1']);
    advance(61_000);
    throttle.failed(['ip:1']);
    expect(throttle.retryAfterMs(['ip:1'])).toBe(0);
    throttle.failed(['a', 'b', 'c', 'd']);
    expect(throttle.size).toBe(3);
  });
});
