import { describe, expect, it } from 'vitest';
import { FloodGuard } from '../../src/gateway/floodGuard.js';

describe('the flood guard', () => {
  it('lets a burst through, refills at the rate, warns once when dropping, then closes', () => {
    let now = 0;
    const guard = new FloodGuard({ burst: 3, perSecond: 10, maxDropped: 2 }, () => now);
    expect([guard.check(), guard.check(), guard.check()]).toEqual(['accept', 'accept', 'accept']);
    expect(guard.check()).toBe('warn');
    now += 100; // one token back
    expect(guard.check()).toBe('accept');
    expect([guard.check(), guard.check(), guard.check()]).toEqual(['warn', 'drop', 'close']);
  });
});
