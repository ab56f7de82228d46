import type { VideoCodec } from '../../src/domain.js';
import { buildRtp } from '../helpers/rtp.js';
import { packetizeH264, packetizeVp8 } from '../../mixer/rtp/packetizer.js';
import { encodeClip } from '../helpers/videoClips.js';

/** A few real frames of each codec (a keyframe first): what the broken ones are broken from. */
function realFrames(): Record<VideoCodec, Buffer[]> {
  const frames = (codec: VideoCodec): Buffer[] => encodeClip(codec, 'testsrc2=size=320x180:rate=15', { frames: 8, gop: 4 }).map((frame) => frame.data);
  return { VP8: frames('VP8'), H264: frames('H264') };
}

/** A small seeded generator: the same broken frames every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * `count` broken frames as RTP packets, the first half VP8 and the rest H.264: random bytes, real frames cut
 * short, real frames with bits flipped, and real frames with garbage after them, in turn. Sequence numbers
 * are the sender's to set.
 */
export function* hostileVideoFrames(count: number, seed = 7): Generator<{ codec: VideoCodec; packets: Buffer[] }> {
  const frames = realFrames();
  const next = random(seed);
  const below = (limit: number): number => Math.floor(next() * limit);
  for (let index = 0; index < count; index++) {
    const codec: VideoCodec = index < count / 2 ? 'VP8' : 'H264';
    const real = frames[codec][below(frames[codec].length)]!;
    let data: Buffer;
    switch (index % 4) {
      case 0:
        data = Buffer.from(Array.from({ length: 1 + below(3000) }, () => below(256)));
        break;
      case 1:
        data = Buffer.from(real.subarray(0, 1 + below(real.length - 1)));
        break;
      case 2:
        data = Buffer.from(real);
        for (let flips = 1 + below(8); flips > 0; flips--) {
          const at = below(data.length);
          data[at] = data[at]! ^ (1 << below(8));
        }
        break;
      default:
        data = Buffer.concat([real, Buffer.from(Array.from({ length: 1 + below(500) }, () => below(256)))]);
    }
    const payloads = codec === 'VP8' ? packetizeVp8(data, index & 0x7fff) : packetizeH264(data);
    const timestamp = (index * 6000) >>> 0;
    const packets = payloads.map((payload, at) =>
      buildRtp({ marker: at === payloads.length - 1, payloadType: 96, sequence: 0, timestamp, ssrc: 1 }, payload),
    );
    if (packets.length > 0) yield { codec, packets };
  }
}
