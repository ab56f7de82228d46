import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncodedFrame } from '../../mixer/rtp/depacketizer.js';
import type { VideoCodec } from '../../src/domain.js';

/** IVF: a 32-byte header, then per frame a 12-byte header (length, pts) and the frame. */
export function ivfFrames(file: Buffer): EncodedFrame[] {
  const frames: EncodedFrame[] = [];
  for (let offset = file.readUInt16LE(6); offset + 12 <= file.length; ) {
    const length = file.readUInt32LE(offset);
    const data = file.subarray(offset + 12, offset + 12 + length);
    // VP8's frame tag: bit 0 clear on a keyframe.
    frames.push({ data, keyframe: (data[0]! & 1) === 0, timestamp: frames.length * 6000 });
    offset += 12 + length;
  }
  return frames;
}

/** Annex B cut at each access unit delimiter (NAL type 9); an access unit with an IDR slice (type 5) is a keyframe. */
export function accessUnits(stream: Buffer): EncodedFrame[] {
  const delimiter = Buffer.from([0, 0, 1, 9]);
  const startCode = Buffer.from([0, 0, 1]);
  const starts: number[] = [];
  for (let at = stream.indexOf(delimiter); at >= 0; at = stream.indexOf(delimiter, at + 4)) starts.push(at);
  return starts.map((start, index) => {
    const data = stream.subarray(start, starts[index + 1] ?? stream.length);
    let keyframe = false;
    for (let at = data.indexOf(startCode); at >= 0 && !keyframe; at = data.indexOf(startCode, at + 3)) keyframe = (data[at + 3]! & 0x1f) === 5;
    return { data, keyframe, timestamp: index * 6000 };
  });
}

/**
 * FFmpeg's encoder arguments for clips as browsers send them (H.264 with delimiters, and SPS/PPS with every
 * IDR), deterministic: libvpx's realtime mode adapts to the machine's speed, its good mode does not.
 */
export function clipEncoderArgs(codec: VideoCodec): string[] {
  return codec === 'VP8'
    ? ['-c:v', 'libvpx', '-deadline', 'good', '-cpu-used', '4']
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-x264-params', 'aud=1:repeat-headers=1', '-f', 'h264'];
}

/** Reads an encoded clip file into frames: IVF for VP8, Annex B for H.264. */
export function clipFrames(codec: VideoCodec, file: string): EncodedFrame[] {
  const bytes = readFileSync(file);
  return codec === 'VP8' ? ivfFrames(bytes) : accessUnits(bytes);
}

/**
 * `frames` pictures of a lavfi `source` encoded by the FFmpeg CLI (a keyframe every `gop`), single-threaded
 * so the same bytes come out every run; `extra` arguments go before the encoder's.
 */
export function encodeClip(codec: VideoCodec, source: string, options: { frames: number; gop: number; extra?: string[] }): EncodedFrame[] {
  const dir = mkdtempSync(join(tmpdir(), 'cometmcu-clip-'));
  try {
    const file = join(dir, codec === 'VP8' ? 'clip.ivf' : 'clip.h264');
    const input = ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-frames:v', String(options.frames), '-g', String(options.gop), '-threads', '1'];
    execFileSync('ffmpeg', [...input, ...(options.extra ?? []), ...clipEncoderArgs(codec), file]);
    return clipFrames(codec, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
