import { describe, expect, it } from 'vitest';
import { liveFfmpegPids } from '../../mixer/ffmpeg.js';
import { eventually, sleep } from '../mixer/harness.js';
import { useConference } from '../mixer/conference.js';

/** What a member's own browser sends gets through SRTP: it must not cost the server more than a member's share. */
describe('media edge: a member whose camera flips codecs on every packet', () => {
  const { world, fleet } = useConference([
    { userId: 1, colour: 'red', tone: 400 },
    { userId: 2, colour: 'blue', tone: 600 },
  ]);

  it('restarts its decoder a bounded number of times, not once per packet', async () => {
    await eventually(async () => expect(await fleet.call('tiles', 2, 'grid', 2)).toEqual(['red', 'blue']), 15_000);
    const before = world.mixer.stats().decodersStarted;
    await fleet.call('flipCodecs', 1, 3000);
    await sleep(500);
    // Member 1's decoder: at most a restart per two seconds of flipping.
    expect(world.mixer.stats().decodersStarted - before).toBeLessThanOrEqual(2);
    expect(world.mixer.stats().videoDecoders).toBe(2);
    expect(liveFfmpegPids()).toEqual([]);
    await eventually(async () => expect(await fleet.call('tiles', 2, 'grid', 2)).toEqual(['red', 'blue']), 15_000);
  }, 60_000);
});
