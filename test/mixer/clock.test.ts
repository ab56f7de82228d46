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

  it('skips the slots a busy process missed, or catches them up when asked', async () => {
    const counts = { skip: 0, catchUp: 0 };
    const stops = [fixedRate(20, () => counts.skip++), fixedRate(20, () => counts.catchUp++, { catchUp: true })];
    const busyUntil = performance.now() + 200;
    while (performance.now() < busyUntil); // the event loop is blocked for 200 ms
    await new Promise((resolve) => setTimeout(resolve, 300));
    stops.forEach((stop) => stop());
    // 500 ms at 20 ms: 25 slots (+1 at the start). Skipping loses the 10 blocked ones; catching up does not.
    expect(counts.skip).toBeLessThanOrEqual(19);
    expect(counts.catchUp).toBeGreaterThanOrEqual(24);
  });
});
