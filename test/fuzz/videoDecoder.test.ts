import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CanvasSize, VideoCodec } from '../../src/domain.js';
import { VideoDecoder } from '../../mixer/inbound/videoDecoder.js';
import type { EncodedFrame } from '../../mixer/rtp/depacketizer.js';
import { MAX_FRAME_BYTES } from '../../mixer/rtp/depacketizer.js';
import { encodeClip } from '../helpers/videoClips.js';
import { PALETTE, yuvOf } from '../mixer/signals.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';

/**
 * What a member's browser sends is anyone's bytes once it has been reassembled into frames: random bytes, real
 * frames cut short, with bits flipped, with megabytes after them, frames of the other codec, of another
 * resolution, empty ones, each claiming to be a keyframe or not. The decoder never throws or crashes, counts
 * every frame, holds no more memory for it, and decodes the next real keyframe and the frames after it right.
 */

const CODECS = ['VP8', 'H264'] as const;
/** Red on the left half, blue on the right, then a second resolution with something else on it. */
const SOURCES = ['color=c=red:s=160x120:r=15,drawbox=x=80:y=0:w=80:h=120:color=blue:t=fill', 'testsrc2=size=112x64:rate=15'];
/** Out of 160x120 the middle 120x120: its left half red, its right half blue. */
const SQUARE = { width: 120, height: 120 };
const SIZES: CanvasSize[] = [SQUARE, { width: 320, height: 180 }];

/** 8 frames of each source in each codec, a keyframe every 4 (each H.264 one with its SPS and PPS, as browsers send them). */
function realClips(): Record<VideoCodec, EncodedFrame[][]> {
  const clips = (codec: VideoCodec): EncodedFrame[][] => SOURCES.map((source) => encodeClip(codec, source, { frames: 8, gop: 4, extra: ['-pix_fmt', 'yuv420p'] }));
  return { VP8: clips('VP8'), H264: clips('H264') };
}

const CLIPS = realClips();

/** A hostile frame, described by what it is made of (so a failing one is kept small and readable). */
type Hostile =
  | { kind: 'random'; bytes: Buffer; keyframe: boolean }
  | { kind: 'truncated' | 'flipped' | 'oversized' | 'real'; codec: VideoCodec; clip: number; index: number; at: number[]; keyframe: boolean }
  | { kind: 'empty'; keyframe: boolean };

const keyframeFlag = fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const fromReal = (kind: 'truncated' | 'flipped' | 'oversized' | 'real', positions: fc.Arbitrary<number[]>) =>
  fc.record({ kind: fc.constant(kind), codec: fc.constantFrom(...CODECS), clip: fc.nat(SOURCES.length - 1), index: fc.nat(7), at: positions, keyframe: keyframeFlag });

const hostileFrame: fc.Arbitrary<Hostile> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 2000 }).map((array) => Buffer.from(array)), keyframe: keyframeFlag }) },
  // Cut at a fraction (per 65536) of the frame's length.
  { weight: 4, arbitrary: fromReal('truncated', fc.tuple(fc.nat(0xffff))) },
  // Bits to flip, as fractions of the frame's bit length.
  { weight: 6, arbitrary: fromReal('flipped', fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 8 })) },
  // A byte repeated after a real frame, up to 256 KB, or up to all the depacketizer lets through (rarer: slow to parse).
  { weight: 1, arbitrary: fromReal('oversized', fc.tuple(fc.oneof({ weight: 9, arbitrary: fc.nat(1 << 18) }, { weight: 1, arbitrary: fc.constant(MAX_FRAME_BYTES) }), fc.nat(255))) },
  { weight: 3, arbitrary: fromReal('real', fc.constant([])) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('empty' as const), keyframe: keyframeFlag }) },
);

function frameOf(hostile: Hostile): EncodedFrame {
  if (hostile.kind === 'random') return { data: hostile.bytes, keyframe: hostile.keyframe, timestamp: 0 };
  if (hostile.kind === 'empty') return { data: Buffer.alloc(0), keyframe: hostile.keyframe, timestamp: 0 };
  const real = CLIPS[hostile.codec][hostile.clip]![hostile.index]!.data;
  const at = (fraction: number, length: number): number => Math.floor((fraction / 0x10000) * length);
  let data: Buffer;
  if (hostile.kind === 'truncated') data = real.subarray(0, at(hostile.at[0]!, real.length));
  else if (hostile.kind === 'oversized') data = Buffer.concat([real, Buffer.alloc(Math.max(0, hostile.at[0]! - real.length), hostile.at[1]!)]);
  else if (hostile.kind === 'flipped') {
    data = Buffer.from(real);
    for (const fraction of hostile.at) {
      const bit = at(fraction, real.length * 8);
      data[bit >> 3]! ^= 1 << (bit & 7);
    }
  } else data = real;
  return { data, keyframe: hostile.keyframe, timestamp: 0 };
}

const log = pino({ level: 'silent' });

/** Frames the decoder has finished with: every frame written ends in exactly one count. */
const handled = (decoder: VideoDecoder): number => decoder.counts.decoded + decoder.counts.failed + decoder.counts.dropped;

async function settled(decoder: VideoDecoder, written: number): Promise<void> {
  while (handled(decoder) < written) await new Promise((resolve) => setImmediate(resolve));
}

/** The decoder, after whatever came before, decodes a real keyframe and the 3 frames after it into red | blue. */
async function expectDecodesRealFrames(decoder: VideoDecoder, codec: VideoCodec, written: number): Promise<number> {
  const before = { ...decoder.counts };
  for (const frame of CLIPS[codec][0]!.slice(4, 8)) {
    decoder.write(frame);
    await settled(decoder, ++written);
  }
  expect(decoder.counts.decoded - before.decoded, `real frames decoded after ${JSON.stringify(before)}`).toBe(4);
  const picture = decoder.picture(SQUARE)!;
  for (const [x, colour] of [[30, PALETTE.red!], [90, PALETTE.blue!]] as const) {
    const [y, u, v] = yuvOf(colour);
    const luma = picture.data[60 * SQUARE.width + x]!;
    const chroma = (60 / 2) * (SQUARE.width / 2) + x / 2;
    const quarter = (SQUARE.width * SQUARE.height) / 4;
    const found = [luma, picture.data[4 * quarter + chroma]!, picture.data[5 * quarter + chroma]!];
    for (const [index, expected] of [y, u, v].entries()) expect(Math.abs(found[index]! - expected), `x ${x}: YUV ${found} for ${[y, u, v].map(Math.round)}`).toBeLessThan(12);
  }
  return written;
}

function newDecoder(codec: VideoCodec): VideoDecoder {
  const decoder = new VideoDecoder({ codec, log, onNeedKeyframe: () => undefined });
  decoder.setSizes(SIZES);
  return decoder;
}

/** The process's resident memory after a full garbage collection (V8's gc, exposed for this test). */
function residentAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().rss;
}

describe('fuzz: a member video decoder', () => {
  it(
    'survives any sequence of hostile frames, then decodes real ones',
    () =>
      fuzz(
        'video-decoder',
        fc.record({ codec: fc.constantFrom(...CODECS), frames: fc.array(fc.record({ frame: hostileFrame, wait: fc.boolean() }), { maxLength: 30 }) }),
        async ({ codec, frames }) => {
          const decoder = newDecoder(codec);
          try {
            let written = 0;
            for (const { frame, wait } of frames) {
              decoder.write(frameOf(frame));
              written++;
              // Sometimes a burst: frames written faster than they decode.
              if (wait) await settled(decoder, written);
            }
            await settled(decoder, written);
            // A size no view asked for: scaled at once from the latest frame, which may come from a decoder since replaced.
            const odd = decoder.picture({ width: 64, height: 48 });
            if (odd) expect(odd.data.length).toBe((64 * 48 * 3) / 2);
            await expectDecodesRealFrames(decoder, codec, written);
          } finally {
            await decoder.close();
          }
        },
      ),
    fuzzTimeoutMs(),
  );

  it.each(CODECS)('takes 10,000 hostile frames on one %s decoder: no crash, every frame counted, memory flat, real frames decoded after', async (codec) => {
    const decoder = newDecoder(codec);
    let written = 0;
    const batch = async (seed: number): Promise<void> => {
      // Three at a time: as many as may wait, so none is dropped for the decoder being behind.
      for (const [index, hostile] of fc.sample(hostileFrame, { numRuns: 1000, seed }).entries()) {
        decoder.write(frameOf(hostile));
        written++;
        if (index % 3 === 2) await settled(decoder, written);
      }
      await settled(decoder, written);
    };
    // Resident memory after each batch: its median over batches 3-5 against that over batches 8-10. The first
    // batches grow the decoder's pools, glibc's per-thread arenas and V8's heap to their working size; medians,
    // because a 4 MB frame now and then moves glibc's heap by tens of MB either way. A leak of 8 KB a frame
    // (a packet, a decoded frame, a decoder) would show as 40 MB.
    const resident: number[] = [];
    for (let seed = 0; seed < 10; seed++) {
      await batch(seed);
      resident.push(residentAfterGc());
    }
    const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const growth = median(resident.slice(7)) - median(resident.slice(2, 5));
    console.log(
      `${codec} decoder, 10,000 hostile frames: ${JSON.stringify(decoder.counts)}; RSS ${resident.map((bytes) => (bytes / 2 ** 20).toFixed(0)).join(' ')} MB, growth ${(growth / 2 ** 20).toFixed(1)} MB`,
    );
    expect(handled(decoder)).toBe(10_000);
    expect(decoder.counts.failed).toBeGreaterThan(1000);
    expect(decoder.counts.dropped).toBeGreaterThan(100);
    expect(decoder.counts.decoded).toBeGreaterThan(100);
    expect(growth).toBeLessThan(40 * 2 ** 20);
    written = await expectDecodesRealFrames(decoder, codec, written);
    await decoder.close();
    expect(handled(decoder)).toBe(written);
  }, 60_000);

  it.each(CODECS)('follows a %s sender that switches resolution at every frame, 1,000 times, without holding more memory', async (codec) => {
    const decoder = newDecoder(codec);
    const keyframes = [CLIPS[codec][0]![0]!, CLIPS[codec][1]![0]!];
    let written = 0;
    const switches = async (count: number): Promise<void> => {
      for (let index = 0; index < count; index++) {
        decoder.write(keyframes[index % 2]!);
        await settled(decoder, ++written);
      }
    };
    await switches(200);
    const start = residentAfterGc();
    await switches(1000);
    const growth = residentAfterGc() - start;
    console.log(`${codec} decoder, 1,000 resolution switches: RSS growth ${(growth / 2 ** 20).toFixed(1)} MB`);
    await decoder.close();
    expect(decoder.counts).toEqual({ decoded: 1200, failed: 0, dropped: 0 });
    // Two scalers (one per size) made and freed at each switch: a leak of 30 KB each (node-av's getContext then
    // initContext did that) would show as 60 MB.
    expect(growth).toBeLessThan(20 * 2 ** 20);
  });
});
