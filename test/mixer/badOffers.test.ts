import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { MediaError } from '../../src/conference/media.js';
import { liveFfmpegPids } from '../../mixer/ffmpeg.js';
import { newMixerWorld } from './harness.js';

describe('mixer: broken SDP offers', () => {
  const world = newMixerWorld();
  afterAll(() => world.mixer.close());

  it('refuses each with a MediaError, and the room stays usable with nothing left behind', async () => {
    const offers = [
      '',
      'not an sdp',
      'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n', // no media at all
      'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n', // no ICE, no DTLS
      randomBytes(2000).toString('latin1'),
    ];
    for (const [index, offer] of offers.entries()) {
      const member = await world.model.join({ devId: 0, room: 'bad', userId: index + 1, profile: 'grid' });
      const failure = await world.mixer.join(member, offer).then(() => undefined, (error: unknown) => error);
      expect(failure, `offer ${index}`).toBeInstanceOf(MediaError);
      await world.model.leave(0, 'bad', member.userId, 'media-failed');
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(world.mixer.stats().rooms).toBe(0);
    expect(liveFfmpegPids()).toEqual([]);
  });
});
