import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { CanvasSize, VideoCodec } from '../src/domain.js';
import { SupervisedFfmpeg } from './ffmpeg.js';
import { pictureBytes, type Picture } from './frames.js';
import type { EncodedFrame } from './rtp/depacketizer.js';

/** IVF: the container FFmpeg reads VP8 from a pipe with exact frame boundaries. */
function ivfFileHeader(size: CanvasSize): Buffer {
  const header = Buffer.alloc(32);
  header.write('DKIF', 0, 'latin1');
  header.writeUInt16LE(0, 4);
  header.writeUInt16LE(32, 6);
  header.write('VP80', 8, 'latin1');
  header.writeUInt16LE(size.width, 12);
  header.writeUInt16LE(size.height, 14);
  header.writeUInt32LE(90_000, 16);
  header.writeUInt32LE(1, 20);
  return header;
}

function ivfFrameHeader(length: number, timestamp: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt32LE(length, 0);
  header.writeBigUInt64LE(BigInt(timestamp), 4);
  return header;
}

/**
 * Reads raw pictures of a fixed size from a stream into a small pool of buffers, so a steady stream of
 * frames allocates nothing (allocating per frame cost more in GC than the copying).
 */
class PictureReader {
  private readonly pool: Buffer[];
  private current = 0;
  private filled = 0;

  constructor(
    private readonly size: CanvasSize,
    private readonly onPicture: (picture: Picture) => void,
  ) {
    this.pool = Array.from({ length: 3 }, () => Buffer.allocUnsafe(pictureBytes(size)));
  }

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const target = this.pool[this.current]!;
      const copied = chunk.copy(target, this.filled, offset);
      this.filled += copied;
      offset += copied;
      if (this.filled === target.length) {
        this.onPicture({ ...this.size, data: target });
        this.current = (this.current + 1) % this.pool.length;
        this.filled = 0;
      }
    }
  }
}

export interface DecoderOptions {
  name: string;
  codec: VideoCodec;
  size: CanvasSize;
  log: Logger;
  onPicture(picture: Picture): void;
  /** The decoder (re)started and can only begin at a keyframe. */
  onNeedKeyframe(): void;
}

/**
 * One member's video decoder: encoded frames in on stdin (IVF for VP8, Annex-B for H.264), raw I420
 * pictures out at the size of the member's tile. A dead decoder is restarted and asks for a keyframe.
 */
export class VideoDecoder {
  private ffmpeg: SupervisedFfmpeg;
  private stdin: Writable | undefined;
  private waitingForKeyframe = true;

  constructor(private options: DecoderOptions) {
    this.ffmpeg = this.start();
  }

  get size(): CanvasSize {
    return this.options.size;
  }

  get pid(): number | undefined {
    return this.ffmpeg.pid;
  }

  write(frame: EncodedFrame): void {
    if (this.waitingForKeyframe) {
      if (!frame.keyframe) return;
      this.waitingForKeyframe = false;
    }
    // A decoder that cannot keep up drops frames here rather than queueing seconds of video.
    if (!this.stdin || this.stdin.writableLength > 4 * 1024 * 1024) return;
    if (this.options.codec === 'VP8') this.stdin.write(ivfFrameHeader(frame.data.length, frame.timestamp));
    this.stdin.write(frame.data);
  }

  /** A new tile size: restart at that size (FFmpeg's scale is cheaper than scaling in JavaScript). */
  async resize(size: CanvasSize): Promise<void> {
    if (size.width === this.options.size.width && size.height === this.options.size.height) return;
    const old = this.ffmpeg;
    this.options = { ...this.options, size };
    this.ffmpeg = this.start();
    await old.stop();
  }

  close(): Promise<void> {
    return this.ffmpeg.stop();
  }

  private start(): SupervisedFfmpeg {
    const { codec, size, name, log } = this.options;
    const input = codec === 'VP8' ? ['-f', 'ivf'] : ['-f', 'h264'];
    const ffmpeg = new SupervisedFfmpeg({
      name,
      log,
      // No -fflags nobuffer: with a tiny probe it throws away the first keyframe.
      args: [
        '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0', ...input, '-i', 'pipe:0',
        '-threads', '1', '-vf', `scale=${size.width}:${size.height}:flags=fast_bilinear`, '-fps_mode', 'passthrough',
        '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1',
      ],
      stdio: ['pipe', 'pipe', 'pipe'],
      onStart: (child) => {
        this.stdin = child.stdin as Writable;
        this.waitingForKeyframe = true;
        if (codec === 'VP8') this.stdin.write(ivfFileHeader(size));
        const reader = new PictureReader(size, (picture) => {
          if (this.ffmpeg === ffmpeg) this.options.onPicture(picture);
        });
        (child.stdout as Readable).on('data', (chunk: Buffer) => reader.push(chunk));
        this.options.onNeedKeyframe();
      },
    });
    return ffmpeg;
  }
}
