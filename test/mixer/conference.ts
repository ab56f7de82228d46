import { afterAll, beforeAll } from 'vitest';
import { BrowserFleet, newMixerWorld, type JoinOptions, type MixerWorld } from './harness.js';

// Kept out of harness.ts: importing vitest outside its runner throws, and the benchmarks use the harness.

/**
 * A conference for a test file: `members` join before the tests (in this order), and everything is closed
 * after them.
 */
export function useConference(members: JoinOptions[], world: MixerWorld = newMixerWorld()): { world: MixerWorld; fleet: BrowserFleet } {
  const fleet = new BrowserFleet();
  beforeAll(async () => {
    for (const member of members) await fleet.join(world, member);
  }, 60_000);
  afterAll(async () => {
    await fleet.close();
    await world.mixer.close();
  });
  return { world, fleet };
}
