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

  it('restarts its decoder a bounded number of times, not once per packet, and leaves no FFmpeg behind', async () => {
    await eventually(async () => expect(await fleet.call('tiles', 2, 'grid', 2)).toEqual(['red', 'blue']), 15_000);
    const decoders = new Set<number>();
    const watch = setInterval(() => {
      for (const { decoders: pids } of world.mixer.ffmpegPids().values()) for (const pid of pids) decoders.add(pid);
    }, 20);
    try {
      await fleet.call('flipCodecs', 1, 3000);
      await sleep(500);
    } finally {
      clearInterval(watch);
    }
    // Member 2's decoder, and member 1's: the first plus at most a restart per two seconds.
    expect(decoders.size).toBeLessThanOrEqual(4);
    // Of decoders and encoders, only the room's own remain: one decoder per member and the grid's encoder.
    await eventually(() => expect(liveFfmpegPids().length).toBeLessThanOrEqual(3));
    await eventually(async () => expect(await fleet.call('tiles', 2, 'grid', 2)).toEqual(['red', 'blue']), 15_000);
  }, 60_000);
});
