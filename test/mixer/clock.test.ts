import { describe, expect, it } from 'vitest';
import { fixedRate } from '../../mixer/clock.js';

describe('fixed-rate ticks', () => {
  it('ticks at the rate asked, not faster when timers fire early', async () => {
    let ticks = 0;
    const stop = fixedRate(1000 / 15, () => ticks++);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    stop();
    expect(ticks).toBeGreaterThanOrEqual(29);
    expect(ticks).toBeLessThanOrEqual(32);
  });
});
