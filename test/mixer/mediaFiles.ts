import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import { tileRects } from '../../mixer/views/layouts/index.js';
import { CANVAS, eventually } from './harness.js';
import { rgbName, tonePower } from './signals.js';

const exec = promisify(execFile);

/**
 * Reads media files and URLs the server wrote. A live stream never ends and a reader can wait on it for
 * long (FFmpeg's DASH reader did, when our manifest had no segment timeline and it guessed segments from the
 * clock): a read gets 8 s, then a check tries again.
 */
export const READ = { encoding: 'buffer', maxBuffer: 64 << 20, timeout: 8000, killSignal: 'SIGKILL' } as const;

/** The sound of a media file or URL as 48 kHz mono, from `seek` seconds in, `seconds` long (all without). */
export async function readSound(input: string, options: { seek?: number; seconds?: number } = {}): Promise<Int16Array> {
  const from = options.seek === undefined ? [] : ['-ss', String(options.seek)];
  const length = options.seconds === undefined ? [] : ['-t', String(options.seconds)];
  const { stdout } = await exec('ffmpeg', ['-v', 'error', ...from, '-i', input, '-vn', ...length, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'], READ);
  const pcm = stdout as unknown as Buffer;
  return new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 2));
}

/** Each of `frequencies` sounds at least 100 times louder than a frequency nobody sends. */
export function expectTones(samples: Int16Array, frequencies: number[]): void {
  const quiet = Math.max(tonePower(samples, 1700), 1e-9);
  for (const frequency of frequencies) expect(tonePower(samples, frequency), `${frequency} Hz`).toBeGreaterThan(100 * quiet);
}

/** The first frame of a media file or URL (or the one `seek` seconds in) as RGB, and 2 s of its sound. */
export async function decode(input: string, seek = 0): Promise<{ frame: Buffer; audio: Int16Array }> {
  const video = await exec('ffmpeg', ['-v', 'error', '-ss', String(seek), '-i', input, '-frames:v', '1', '-vf', `scale=${CANVAS.width}:${CANVAS.height}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], READ);
  // At most 2 s of sound: a live DASH manifest never ends.
  return { frame: video.stdout as unknown as Buffer, audio: await readSound(input, { seek, seconds: 2 }) };
}

/** Colour names at the top fifth of each tile of a grid of 2. */
function tiles(frame: Buffer): string[] {
  return tileRects('grid', 2, CANVAS).map((rect) => {
    const x = rect.x + Math.floor(rect.width / 2);
    const y = rect.y + Math.floor(rect.height / 5);
    const offset = (y * CANVAS.width + x) * 3;
    return rgbName([frame[offset]!, frame[offset + 1]!, frame[offset + 2]!]);
  });
}

/** A broadcast of the two test members (red 400 Hz, blue 600 Hz): both tiles and both tones. */
export function expectBothMembers(media: { frame: Buffer; audio: Int16Array }): void {
  expect(tiles(media.frame)).toEqual(['red', 'blue']);
  expectTones(media.audio, [400, 600]);
}

/**
 * The newest complete segment of a room's low-latency HLS (`base`: its /hls/<dev_id>/<room> URL), with its
 * init segment in front, saved as one playable file; returns its playlist too.
 */
export async function saveNewestLowLatencySegment(base: string, file: string): Promise<string> {
  const playlist = await (await fetch(`${base}/index.m3u8`)).text();
  const segment = [...playlist.matchAll(/^(segment-\d+\.m4s)$/gm)].at(-1);
  expect(segment, 'a complete segment').toBeDefined();
  // Its init segment: the last one named before it.
  const init = [...playlist.slice(0, segment!.index).matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].at(-1)?.[1];
  const parts = await Promise.all([`${base}/${init}`, `${base}/${segment![1]}`].map(async (url) => Buffer.from(await (await fetch(url)).arrayBuffer())));
  writeFileSync(file, Buffer.concat(parts));
  return playlist;
}

/**
 * Waits until a live HLS playlist lists a segment, and its newest one shows both test members and plays
 * both tones. `playlist` is a URL or a file; segments are named relative to it.
 */
export async function expectBothMembersInHls(playlist: string, timeoutMs = 30_000): Promise<void> {
  const url = /^https?:/.test(playlist);
  await eventually(async () => {
    const text = url ? await (await fetch(playlist)).text() : existsSync(playlist) ? readFileSync(playlist, 'utf8') : '';
    const segment = text.split('\n').filter((line) => line && !line.startsWith('#')).at(-1);
    expect(segment, `a segment in ${playlist}`).toBeDefined();
    expectBothMembers(await decode(`${playlist.slice(0, playlist.lastIndexOf('/'))}/${segment}`));
  }, timeoutMs);
}
