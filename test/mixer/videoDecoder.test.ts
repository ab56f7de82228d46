import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { CanvasSize, VideoCodec } from '../../src/domain.js';
import { VideoDecoder } from '../../mixer/inbound/videoDecoder.js';
import { pictureBytes } from '../../mixer/views/frames.js';
import type { EncodedFrame } from '../../mixer/rtp/depacketizer.js';
import { clipEncoderArgs, clipFrames } from '../helpers/videoClips.js';

/**
 * The in-process decoder against the FFmpeg CLI: the same clips decoded, cropped and scaled by both (the CLI with
 * crop and scale filters written out by hand, fast_bilinear as the decoder), compared plane by plane.
 */

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-video-decoder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const log = pino({ level: 'silent' });
const WIDE = { width: 640, height: 360 };
const NARROW = { width: 320, height: 240 };

interface Clip {
  file: string;
  frames: EncodedFrame[];
}

/** `frames` pictures of a lavfi source, encoded by the CLI as a browser would send them (a keyframe every 15). */
async function encode(codec: VideoCodec, source: string, frames: number, pixelFormat = 'yuv420p'): Promise<Clip> {
  const file = join(dir, `${codec}-${source.replace(/\W+/g, '_')}-${pixelFormat}.${codec === 'VP8' ? 'ivf' : 'h264'}`);
  const input = ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-frames:v', String(frames), '-g', '15', '-pix_fmt', pixelFormat];
  await exec('ffmpeg', [...input, '-b:v', '2M', ...clipEncoderArgs(codec), file]);
  return { file, frames: clipFrames(codec, file) };
}

/** Every picture of a file as the CLI makes it: `crop` (w:h:x:y, written out by hand), scaled fast_bilinear, I420. */
async function reference(file: string, crop: string, size: CanvasSize): Promise<Buffer[]> {
  const { stdout } = await exec(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-vf', `crop=${crop},scale=${size.width}:${size.height}:flags=fast_bilinear`, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-'],
    { encoding: 'buffer', maxBuffer: 256 << 20 },
  );
  const bytes = pictureBytes(size);
  return Array.from({ length: stdout.length / bytes }, (_, index) => stdout.subarray(index * bytes, (index + 1) * bytes));
}

/** Mean absolute difference of each plane (Y, U, V) of two I420 pictures. */
function planeErrors(actual: Buffer, expected: Buffer, size: CanvasSize): [number, number, number] {
  const luma = size.width * size.height;
  const bounds = [0, luma, luma + luma / 4, luma + luma / 2];
  return [0, 1, 2].map((plane) => {
    let sum = 0;
    for (let at = bounds[plane]!; at < bounds[plane + 1]!; at++) sum += Math.abs(actual[at]! - expected[at]!);
    return sum / (bounds[plane + 1]! - bounds[plane]!);
  }) as [number, number, number];
}

/** A decoder that keeps a copy of every picture at each of `sizes`, published or not. */
function recordingDecoder(codec: VideoCodec, sizes: CanvasSize[]) {
  const pictures = new Map<CanvasSize, Buffer[]>(sizes.map((size) => [size, []]));
  let keyframesAsked = 0;
  const decoder = new VideoDecoder({
    codec,
    log,
    onNeedKeyframe: () => keyframesAsked++,
    onPicture: () => {
      for (const size of sizes) pictures.get(size)!.push(Buffer.from(decoder.picture(size)!.data));
    },
  });
  decoder.setSizes(sizes);
  return { decoder, pictures, keyframesAsked: () => keyframesAsked };
}

/** Writes frames one at a time, each once the decoder is done with the one before (so none is dropped for being behind). */
async function feed(decoder: VideoDecoder, frames: EncodedFrame[]): Promise<void> {
  for (const frame of frames) {
    const before = handled(decoder);
    decoder.write(frame);
    while (handled(decoder) === before) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const handled = (decoder: VideoDecoder): number => decoder.counts.decoded + decoder.counts.failed + decoder.counts.dropped;

/** Each picture of `actual` within a mean error of 3 per plane of the CLI's. */
function expectMatches(actual: Buffer[], expected: Buffer[], size: CanvasSize): void {
  expect(actual.length).toBe(expected.length);
  for (const [index, picture] of actual.entries()) {
    const errors = planeErrors(picture, expected[index]!, size);
    expect(Math.max(...errors), `picture ${index} at ${size.width}x${size.height}: Y, U, V errors ${errors.map((error) => error.toFixed(2))}`).toBeLessThan(3);
  }
}

describe.each(['VP8', 'H264'] as const)('VideoDecoder (%s)', (codec) => {
  it('decodes a 720p clip into pictures that match the CLI at a 16:9 size and at a 4:3 size that crops', async () => {
    const clip = await encode(codec, 'testsrc2=size=1280x720:rate=15', 20);
    const { decoder, pictures } = recordingDecoder(codec, [WIDE, NARROW]);
    await feed(decoder, clip.frames);
    expect(decoder.counts).toEqual({ decoded: 20, failed: 0, dropped: 0 });
    const wide = await reference(clip.file, '1280:720:0:0', WIDE);
    // 4:3 out of 16:9: the middle 960 columns.
    const narrow = await reference(clip.file, '960:720:160:0', NARROW);
    expectMatches(pictures.get(WIDE)!, wide, WIDE);
    expectMatches(pictures.get(NARROW)!, narrow, NARROW);
    // The bound tells a wrong crop and a swapped chroma apart: squeezing instead of cropping, or V read as U, is far off.
    const squeezed = await reference(clip.file, '1280:720:0:0', NARROW);
    expect(planeErrors(pictures.get(NARROW)!.at(-1)!, squeezed.at(-1)!, NARROW)[0]).toBeGreaterThan(10);
    const last = pictures.get(WIDE)!.at(-1)!;
    const swapped = Buffer.concat([last.subarray(0, 640 * 360), last.subarray((640 * 360 * 5) / 4), last.subarray(640 * 360, (640 * 360 * 5) / 4)]);
    expect(Math.max(...planeErrors(swapped, wide.at(-1)!, WIDE))).toBeGreaterThan(10);
    await decoder.close();
  });

  it('follows a sender that changes resolution mid-stream (720p, then 640x480)', async () => {
    const first = await encode(codec, 'testsrc2=size=1280x720:rate=15', 15);
    const second = await encode(codec, 'smptebars=size=640x480:rate=15', 15);
    const { decoder, pictures } = recordingDecoder(codec, [WIDE, NARROW]);
    await feed(decoder, [...first.frames, ...second.frames]);
    expect(decoder.counts).toEqual({ decoded: 30, failed: 0, dropped: 0 });
    expectMatches(pictures.get(WIDE)!.slice(0, 15), await reference(first.file, '1280:720:0:0', WIDE), WIDE);
    expectMatches(pictures.get(WIDE)!.slice(15), await reference(second.file, '640:360:0:60', WIDE), WIDE);
    expectMatches(pictures.get(NARROW)!.slice(15), await reference(second.file, '640:480:0:0', NARROW), NARROW);
    await decoder.close();
  });

  it('scales the latest frame at once for a size never asked for, keeps that picture, and closes twice', async () => {
    const clip = await encode(codec, 'testsrc2=size=1280x720:rate=15', 5);
    const { decoder } = recordingDecoder(codec, [WIDE]);
    const square = { width: 180, height: 180 };
    expect(decoder.picture(square), 'nothing decoded yet').toBeUndefined();
    await feed(decoder, clip.frames);
    const picture = decoder.picture(square)!;
    expect(picture).toMatchObject(square);
    expectMatches([picture.data], (await reference(clip.file, '720:720:280:0', square)).slice(-1), square);
    expect(decoder.picture(square), 'the same picture, not scaled again').toBe(picture);
    await decoder.close();
    await decoder.close();
    decoder.write(clip.frames[0]!);
    expect(decoder.counts.decoded).toBe(5);
  });
});

describe('VideoDecoder pixel formats (H.264)', () => {
  it('converts full-range yuvj420p to the canvas range, and 4:4:4 to 4:2:0, as the CLI does', async () => {
    for (const pixelFormat of ['yuvj420p', 'yuv444p']) {
      const clip = await encode('H264', 'testsrc2=size=1280x720:rate=15', 5, pixelFormat);
      const { decoder, pictures } = recordingDecoder('H264', [NARROW]);
      await feed(decoder, clip.frames);
      expect(decoder.counts, pixelFormat).toEqual({ decoded: 5, failed: 0, dropped: 0 });
      expectMatches(pictures.get(NARROW)!, await reference(clip.file, '960:720:160:0', NARROW), NARROW);
      await decoder.close();
    }
  });
});

describe('VideoDecoder flow', () => {
  it('waits for a keyframe, asking for one, and drops what comes while it is behind instead of queueing it', async () => {
    const clip = await encode('VP8', 'testsrc2=size=320x240:rate=15', 20);
    const { decoder, keyframesAsked } = recordingDecoder('VP8', [WIDE]);
    decoder.write(clip.frames[1]!);
    expect(decoder.counts.dropped).toBe(1);
    expect(keyframesAsked()).toBe(1);
    await feed(decoder, clip.frames.slice(0, 1));
    // 19 frames at once, faster than any decoder: 3 wait, the 4th finds the queue full and all are dropped; the
    // rest wait for a keyframe, and the keyframe at 15 is dropped in the same way with the 3 after it.
    for (const frame of clip.frames.slice(1)) decoder.write(frame);
    await decoder.close();
    expect(decoder.counts).toEqual({ decoded: 1, failed: 0, dropped: 20 });
    // Asked for the first frame, then for each frame dropped while waiting (4 to 14, 18 and 19): the caller rate-limits.
    expect(keyframesAsked()).toBe(1 + 11 + 2);
  });

  it('refuses a picture larger than 4096x2304 instead of allocating it', async () => {
    const clip = await encode('H264', 'testsrc2=size=4800x2400:rate=15', 1);
    const { decoder, keyframesAsked } = recordingDecoder('H264', [WIDE]);
    await feed(decoder, clip.frames);
    expect(decoder.counts).toEqual({ decoded: 0, failed: 1, dropped: 0 });
    expect(keyframesAsked()).toBe(1);
    expect(decoder.picture(WIDE)).toBeUndefined();
    await decoder.close();
  });
});
