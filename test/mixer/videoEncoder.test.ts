import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { VideoEncoder, videoEncodeArgs, type EncodedVideoFrame } from '../../mixer/encoders/videoEncoder.js';
import { annexBNalUnits } from '../../mixer/rtp/packetizer.js';
import type { CanvasSize, VideoCodec } from '../../src/domain.js';
import { until } from '../sip/until.js';

const SIZE: CanvasSize = { width: 640, height: 360 };
const FPS = 15;
const TICKS_PER_FRAME = 90_000 / FPS;
const FRAMES = 30;
const LUMA_BYTES = SIZE.width * SIZE.height;
const CANVAS_BYTES = (LUMA_BYTES * 3) / 2;

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-video-encoder-'));
const encoders: VideoEncoder[] = [];
afterAll(async () => {
  await Promise.all(encoders.map((encoder) => encoder.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Left half bright, right half dark; below, a dark band where a bright 32x32 square moves 16 px a frame. */
const BRIGHT = 200;
const DARK = 50;
const BAND_TOP = 320;
const SQUARE = { top: 324, size: 32, step: 16 };

function paint(canvas: Buffer, index: number): void {
  canvas.fill(128, LUMA_BYTES); // grey chroma
  for (let y = 0; y < SIZE.height; y++) {
    const row = y * SIZE.width;
    if (y < BAND_TOP) {
      canvas.fill(BRIGHT, row, row + SIZE.width / 2);
      canvas.fill(DARK, row + SIZE.width / 2, row + SIZE.width);
    } else {
      canvas.fill(16, row, row + SIZE.width);
      if (y >= SQUARE.top && y < SQUARE.top + SQUARE.size) canvas.fill(235, row + index * SQUARE.step, row + index * SQUARE.step + SQUARE.size);
    }
  }
}

/** Mean luma of a rectangle of a decoded I420 picture. */
function meanLuma(picture: Buffer, x0: number, y0: number, x1: number, y1: number): number {
  let sum = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += picture[y * SIZE.width + x]!;
  return sum / ((x1 - x0) * (y1 - y0));
}

function isKeyframe(codec: VideoCodec, data: Buffer): boolean {
  if (codec === 'VP8') return (data[0]! & 0x01) === 0;
  const types = annexBNalUnits(data).map((unit) => unit[0]! & 0x1f);
  const idr = types.indexOf(5);
  if (idr < 0) return false;
  // An IDR, with the SPS and then the PPS before it.
  expect(types.indexOf(7)).toBeGreaterThanOrEqual(0);
  expect(types.indexOf(7)).toBeLessThan(types.indexOf(8));
  expect(types.indexOf(8)).toBeLessThan(idr);
  return true;
}

/** The frames as a file the ffmpeg CLI reads: IVF for VP8, raw Annex B for H.264. */
function streamFile(codec: VideoCodec, frames: EncodedVideoFrame[]): string {
  const file = join(dir, codec === 'VP8' ? `${randomBytes(4).toString('hex')}.ivf` : `${randomBytes(4).toString('hex')}.h264`);
  if (codec === 'H264') {
    writeFileSync(file, Buffer.concat(frames.map((frame) => frame.data)));
    return file;
  }
  const header = Buffer.alloc(32);
  header.write('DKIF', 0);
  header.writeUInt16LE(32, 6);
  header.write('VP80', 8);
  header.writeUInt16LE(SIZE.width, 12);
  header.writeUInt16LE(SIZE.height, 14);
  header.writeUInt32LE(FPS, 16);
  header.writeUInt32LE(1, 20);
  header.writeUInt32LE(frames.length, 24);
  const parts: Buffer[] = [header];
  frames.forEach((frame, index) => {
    const frameHeader = Buffer.alloc(12);
    frameHeader.writeUInt32LE(frame.data.length, 0);
    frameHeader.writeBigUInt64LE(BigInt(index), 4);
    parts.push(frameHeader, frame.data);
  });
  writeFileSync(file, Buffer.concat(parts));
  return file;
}

/** Decodes with the system's ffmpeg CLI: one I420 picture per frame. */
async function decode(codec: VideoCodec, frames: EncodedVideoFrame[]): Promise<Buffer[]> {
  const { stdout } = await promisify(execFile)(
    'ffmpeg',
    ['-v', 'error', ...(codec === 'H264' ? ['-f', 'h264'] : []), '-i', streamFile(codec, frames), '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-'],
    { encoding: 'buffer', maxBuffer: 256 << 20 },
  );
  return Array.from({ length: stdout.length / CANVAS_BYTES }, (_, index) => stdout.subarray(index * CANVAS_BYTES, (index + 1) * CANVAS_BYTES));
}

function openEncoder(codec: VideoCodec, bitrateKbps = 800): { encoder: VideoEncoder; frames: EncodedVideoFrame[] } {
  const frames: EncodedVideoFrame[] = [];
  const encoder = new VideoEncoder({ codec, size: SIZE, fps: FPS, bitrateKbps, log, onFrame: (frame) => frames.push(frame) });
  encoders.push(encoder);
  return { encoder, frames };
}

/** Encodes one canvas as soon as the encoder is ready (as a compositor's tick would). */
async function encodeWhenReady(encoder: VideoEncoder, canvas: Buffer, index: number): Promise<void> {
  await until(() => encoder.ready, 10_000);
  encoder.encode(canvas, 1000 + index * TICKS_PER_FRAME);
}

describe('videoEncodeArgs: the FFmpeg CLI form of the same settings', () => {
  it('gives the bare FFmpeg the codec, one thread, the GOP, the bitrate and the codec options', () => {
    expect(videoEncodeArgs({ codec: 'VP8', fps: 15, videoBitrateKbps: 1500 }).join(' ')).toBe(
      '-c:v libvpx -deadline:v realtime -cpu-used:v -16 -lag-in-frames:v 0 -error-resilient:v 1 -threads:v 1 -g:v 30 -keyint_min:v 30 -b:v 1500k -pix_fmt:v yuv420p',
    );
    expect(videoEncodeArgs({ codec: 'H264', fps: 30, videoBitrateKbps: 800 }).join(' ')).toBe(
      '-c:v libx264 -preset:v ultrafast -tune:v zerolatency -profile:v baseline -level:v 3.1 -bf:v 0 -x264-params:v repeat-headers=1 -forced-idr:v 1 ' +
        '-threads:v 1 -g:v 60 -keyint_min:v 60 -b:v 800k -pix_fmt:v yuv420p',
    );
  });

  for (const codec of ['VP8', 'H264'] as VideoCodec[]) {
    it(`are all taken by the system's ffmpeg for ${codec}, none left unused`, async () => {
      const args = ['-nostdin', '-v', 'warning', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-frames:v', '3'];
      const { stderr } = await promisify(execFile)('ffmpeg', [...args, ...videoEncodeArgs({ codec, fps: 15, videoBitrateKbps: 300 }), '-f', 'null', '-']);
      expect(stderr).toBe('');
    });
  }
});

describe('VideoEncoder', () => {
  for (const codec of ['VP8', 'H264'] as VideoCodec[]) {
    describe(codec, () => {
      it(
        'encodes 30 canvases that decode to the same picture, a keyframe first and one right after requestKeyframe()',
        async () => {
          const { encoder, frames } = openEncoder(codec);
          expect(encoder.ready, 'not ready before it is open').toBe(false);
          const canvas = Buffer.alloc(CANVAS_BYTES);
          for (let index = 0; index < FRAMES; index++) {
            paint(canvas, index);
            await encodeWhenReady(encoder, canvas, index);
            // Asked while canvas 9 is being encoded: canvas 10 is the keyframe.
            if (index === 9) encoder.requestKeyframe();
            // The caller may reuse its canvas at once: what is encoded was copied.
            canvas.fill(0);
          }
          await until(() => frames.length === FRAMES, 10_000);

          expect(frames.map((frame) => frame.timestamp)).toEqual(Array.from({ length: FRAMES }, (_, index) => 1000 + index * TICKS_PER_FRAME));
          const keyframes = frames.flatMap((frame, index) => (isKeyframe(codec, frame.data) ? [index] : []));
          expect(keyframes).toEqual([0, 10]);
          expect(frames.flatMap((frame, index) => (frame.keyframe ? [index] : []))).toEqual([0, 10]);
          expect(encoder.counts).toMatchObject({ encoded: FRAMES, keyframes: 2, rejected: 0, failed: 0 });
          expect(encoder.counts.bytes).toBe(frames.reduce((sum, frame) => sum + frame.data.length, 0));

          const pictures = await decode(codec, frames);
          expect(pictures).toHaveLength(FRAMES);
          pictures.forEach((picture, index) => {
            expect(Math.abs(meanLuma(picture, 16, 16, 304, 304) - BRIGHT), `frame ${index}: left half`).toBeLessThan(8);
            expect(Math.abs(meanLuma(picture, 336, 16, 624, 304) - DARK), `frame ${index}: right half`).toBeLessThan(8);
            const x = index * SQUARE.step;
            expect(meanLuma(picture, x + 4, SQUARE.top + 4, x + SQUARE.size - 4, SQUARE.top + SQUARE.size - 4), `frame ${index}: the square`).toBeGreaterThan(180);
            const away = x < 320 ? x + 96 : x - 96;
            expect(meanLuma(picture, away + 4, SQUARE.top + 4, away + SQUARE.size - 4, SQUARE.top + SQUARE.size - 4), `frame ${index}: the band`).toBeLessThan(60);
          });
        },
        60_000,
      );

      it(
        'keeps roughly to the bitrate on a busy picture (2 s within a factor of 2 of the target)',
        async () => {
          const bitrateKbps = 1000;
          const { encoder, frames } = openEncoder(codec, bitrateKbps);
          const canvas = Buffer.alloc(CANVAS_BYTES);
          const noise = randomBytes(LUMA_BYTES);
          for (let index = 0; index < FRAMES; index++) {
            // A moving gradient with grain: costly to encode, yet something a camera could film.
            for (let y = 0; y < SIZE.height; y++) canvas.fill((y + index * 8) & 0xff, y * SIZE.width, (y + 1) * SIZE.width);
            for (let offset = index % 8; offset < LUMA_BYTES; offset += 8) canvas[offset] = noise[offset]!;
            canvas.fill(128, LUMA_BYTES);
            await encodeWhenReady(encoder, canvas, index);
          }
          await until(() => frames.length === FRAMES, 10_000);
          const kbps = (encoder.counts.bytes * 8) / 1000 / (FRAMES / FPS);
          expect(kbps).toBeGreaterThan(bitrateKbps / 2);
          expect(kbps).toBeLessThan(bitrateKbps * 2);
        },
        60_000,
      );
    });
  }

  it('ignores and counts a canvas of the wrong size, then goes on', async () => {
    const { encoder, frames } = openEncoder('VP8');
    await until(() => encoder.ready, 10_000);
    encoder.encode(Buffer.alloc(CANVAS_BYTES - 1), 0);
    encoder.encode(Buffer.alloc(CANVAS_BYTES * 2), 0);
    expect(encoder.counts.rejected).toBe(2);
    expect(encoder.ready).toBe(true);
    encoder.encode(Buffer.alloc(CANVAS_BYTES, 100), 0);
    await until(() => frames.length === 1, 10_000);
    expect(encoder.counts).toMatchObject({ encoded: 1, rejected: 2, failed: 0 });
  });

  it('ignores a canvas while busy, closes with an encode in flight, twice, and ignores canvases after', async () => {
    const { encoder, frames } = openEncoder('H264');
    await until(() => encoder.ready, 10_000);
    const canvas = Buffer.alloc(CANVAS_BYTES, 90);
    encoder.encode(canvas, 0);
    expect(encoder.ready).toBe(false);
    encoder.encode(canvas, TICKS_PER_FRAME); // busy: ignored
    const closing = encoder.close();
    expect(encoder.close()).toBe(closing);
    await closing;
    await encoder.close();
    encoder.encode(canvas, 2 * TICKS_PER_FRAME);
    encoder.requestKeyframe();
    expect(encoder.ready).toBe(false);
    expect(encoder.counts.encoded).toBeLessThanOrEqual(1);
    expect(frames, 'no frame handed out after close()').toHaveLength(0);
  });

  it('closes while it is still opening', async () => {
    const { encoder } = openEncoder('VP8');
    await encoder.close();
    expect(encoder.ready).toBe(false);
    encoder.encode(Buffer.alloc(CANVAS_BYTES), 0);
    expect(encoder.counts).toMatchObject({ encoded: 0, failed: 0 });
  });
});
