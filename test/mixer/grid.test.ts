import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLOURS, eventually, newMixerWorld, TestMember, tileColours } from './harness.js';

describe('mixer: grid of 4', () => {
  const world = newMixerWorld();
  const members = COLOURS.slice(0, 4).map((colour, i) => new TestMember({ userId: i + 1, colour, tone: 400 + 200 * i }));
  beforeAll(async () => {
    for (const member of members) await member.join(world);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(members.map((m) => m.close()));
    await world.mixer.close();
  });

  it('shows every member in its tile to every receiver, through one shared encoder', async () => {
    await eventually(() => {
      for (const member of members) {
        expect(member.latest, `member ${member.userId} got no picture`).toBeDefined();
        expect(tileColours(member.latest!, 'grid', 4)).toEqual(['red', 'lime', 'blue', 'yellow']);
      }
    }, 15_000);
    expect(world.mixer.stats().videoEncoders).toBe(1);
  });
});
