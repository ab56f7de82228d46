import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/security/loginThrottle.js';

describe('LoginThrottle', () => {
  const make = () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({ freeFailures: 2, baseDelayMs: 100, maxDelayMs: 1000, forgetMs: 60_000, trustMs: 120_000, maxKeys: 3, now: () => now });
    return { throttle, advance: (ms: number) => (now += ms) };
  };

  it('lets a few failures through, then doubles the wait at each one up to the cap', () => {
    const { throttle } = make();
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      throttle.failed('10.0.0.1');
      waits.push(throttle.retryAfterMs('10.0.0.1'));
    }
    expect(waits).toEqual([0, 0, 100, 200, 400, 800, 1000, 1000]);
  });

  it('closes the user for every address, and a success clears the user but not the address', () => {
    const { throttle, advance } = make();
    for (let i = 0; i < 4; i++) throttle.failed('10.0.0.1', '7');
    expect(throttle.retryAfterMs('10.0.0.2', '7')).toBe(200);
    advance(150);
    expect(throttle.retryAfterMs('10.0.0.1')).toBe(50);
    throttle.succeeded('10.0.0.2', '7');
    expect(throttle.retryAfterMs('10.0.0.3', '7')).toBe(0);
    expect(throttle.retryAfterMs('10.0.0.1')).toBe(50);
  });

  it('keeps an address that logged in as the user open while others fail as that user, for trustMs', () => {
    const { throttle, advance } = make();
    throttle.succeeded('10.0.0.9', 'root');
    for (let i = 0; i < 6; i++) throttle.failed('10.0.0.1', 'root');
    expect(throttle.retryAfterMs('10.0.0.2', 'root')).toBe(800);
    expect(throttle.retryAfterMs('10.0.0.9', 'root')).toBe(0);
    // Its own failures still close it.
    for (let i = 0; i < 3; i++) throttle.failed('10.0.0.9', 'root');
    expect(throttle.retryAfterMs('10.0.0.9', 'root')).toBe(100);
    // Nor do others failing from its address.
    throttle.succeeded('10.0.0.9', 'root');
    for (let i = 0; i < 6; i++) throttle.failed('10.0.0.9', 'guest');
    expect(throttle.retryAfterMs('10.0.0.9', 'guest')).toBe(800);
    expect(throttle.retryAfterMs('10.0.0.9', 'root')).toBe(0);
    advance(121_000);
    for (let i = 0; i < 6; i++) throttle.failed('10.0.0.1', 'root');
    expect(throttle.retryAfterMs('10.0.0.9', 'root')).toBeGreaterThan(0);
  });

  it('forgets failures after a quiet while and keeps at most maxKeys', () => {
    const { throttle, advance } = make();
    for (let i = 0; i < 5; i++) throttle.failed('10.0.0.1');
    advance(61_000);
    throttle.failed('10.0.0.1');
    expect(throttle.retryAfterMs('10.0.0.1')).toBe(0);
    for (const address of ['a', 'b', 'c', 'd']) throttle.failed(address);
    expect(throttle.size).toBe(3);
  });

  it('judges a burst of attempts one after another, each seeing the failures before it', async () => {
    const throttle = new LoginThrottle({ freeFailures: 3 });
    const verdicts = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        throttle.serialize('10.0.0.1', '7', async () => {
          if (throttle.retryAfterMs('10.0.0.1', '7') > 0) return 'refused unchecked';
          await new Promise((resolve) => setTimeout(resolve, 5)); // the key looked up in a store
          if (i < 9) {
            throttle.failed('10.0.0.1', '7');
            return 'wrong';
          }
          return 'checked';
        }),
      ),
    );
    expect(verdicts).toEqual([...Array(4).fill('wrong'), ...Array(6).fill('refused unchecked')]);
  });
});
