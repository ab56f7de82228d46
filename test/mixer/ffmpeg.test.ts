import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { ffmpegBinary, liveFfmpegPids, SupervisedFfmpeg } from '../../mixer/ffmpeg.js';
import { createLogger } from '../../src/log.js';

const log = createLogger('silent');

describe('FFmpeg processes', () => {
  it('prefers the system ffmpeg and falls back to the packaged one', () => {
    expect(ffmpegBinary()).toBe('/usr/bin/ffmpeg');
    expect(ffmpegBinary({ PATH: '/nonexistent' })).toMatch(/@ffmpeg-installer\/linux-x64\/ffmpeg$/);
  });

  it('restarts a process killed with SIGKILL, and leaves none behind when stopped', async () => {
    let starts = 0;
    const ffmpeg = new SupervisedFfmpeg({
      name: 'test',
      args: ['-re', '-f', 'lavfi', '-i', 'color=c=red:s=64x64:r=10', '-t', '60', '-f', 'null', '-'],
      stdio: ['ignore', 'ignore', 'pipe'],
      log,
      onStart: () => starts++,
    });
    const first = ffmpeg.pid!;
    expect(liveFfmpegPids()).toContain(first);
    const killedAt = performance.now();
    process.kill(first, 'SIGKILL');
    await once(ffmpeg, 'restart');
    expect(performance.now() - killedAt).toBeLessThan(1000);
    expect(ffmpeg.pid).not.toBe(first);
    expect(starts).toBe(2);
    await ffmpeg.stop();
    expect(liveFfmpegPids()).toEqual([]);
  });
});
