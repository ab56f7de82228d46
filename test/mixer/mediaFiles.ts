import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { tonePower } from './signals.js';

const exec = promisify(execFile);

/**
 * Reads media files and URLs the server wrote. FFmpeg reading a live DASH manifest sometimes waits forever
 * (for a segment its clock expects), even after the server is gone: a read gets 8 s, then a check tries again.
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
