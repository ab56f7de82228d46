import { describe, expect, it } from 'vitest';
import { eventually, newMixerWorld, testProfilesFile } from './harness.js';
import { useConference } from './conference.js';

describe('mixer: H.264 out', () => {
  const { world, fleet } = useConference(
    [
      { userId: 1, colour: 'red', tone: 400 },
      { userId: 2, colour: 'blue', tone: 600 },
    ],
    newMixerWorld(testProfilesFile('H264')),
  );

  it('decodes VP8 cameras and sends the canvas in H.264 when the profile says so', async () => {
    await eventually(async () => {
      for (const userId of [1, 2]) expect(await fleet.call('tiles', userId, 'grid', 2)).toEqual(['red', 'blue']);
    }, 15_000);
    expect(await fleet.call('receivedCodec', 1)).toBe('H264');
    expect(world.mixer.stats().videoEncoders).toBe(1);
  });
});
