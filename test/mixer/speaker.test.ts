import { describe, expect, it } from 'vitest';
import { eventually, sleep, type JoinOptions } from './harness.js';
import { useConference } from './conference.js';

describe('mixer: the speaker layout', () => {
  const members: JoinOptions[] = [
    { userId: 1, colour: 'red', tone: 400, volume: 0.3, profile: 'speaker' },
    { userId: 2, colour: 'lime', tone: 600, volume: 0.05, profile: 'speaker' },
    { userId: 3, colour: 'blue', tone: 800, volume: 0.9, profile: 'speaker' },
    { userId: 4, colour: 'yellow', tone: 1000, volume: 0.05, profile: 'speaker' },
  ];
  const { world, fleet } = useConference(members);

  const mainTile = async (userId: number): Promise<string | undefined> => (await fleet.call('tiles', userId, 'speaker', 4))?.[0];

  it('shows the loudest member full size to everyone else, with two encoders in all', async () => {
    await eventually(async () => {
      for (const userId of [1, 2, 4]) expect(await mainTile(userId), `main tile seen by ${userId}`).toBe('blue');
      // The speaker sees someone else: nobody spoke before, so the first other member.
      expect(await mainTile(3)).toBe('red');
      // Everyone else sits in the strip, in join order (the last to join may still be on its placeholder).
      expect((await fleet.call('tiles', 1, 'speaker', 4))!.slice(1)).toEqual(['red', 'lime', 'yellow']);
    }, 15_000);
    expect(world.mixer.stats().videoEncoders).toBe(2);
  });

  it('follows the floor to the next loudest, and the new speaker sees the previous one', async () => {
    await fleet.call('stopSource', 3);
    await eventually(async () => {
      for (const userId of [2, 3, 4]) expect(await mainTile(userId), `main tile seen by ${userId}`).toBe('red');
      expect(await mainTile(1)).toBe('blue');
    }, 10_000);
    expect(world.mixer.stats().videoEncoders).toBe(2);
    await sleep(100);
  });
});
