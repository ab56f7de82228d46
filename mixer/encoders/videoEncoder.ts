import { Codec, CodecContext, FFmpegError, Frame, Packet, Rational } from 'node-av';
import {
  AV_PICTURE_TYPE_I, AV_PICTURE_TYPE_NONE, AV_PIX_FMT_YUV420P, AVERROR_EAGAIN, AVERROR_EOF, FF_ENCODER_LIBVPX_VP8, FF_ENCODER_LIBX264,
  type FFVideoEncoder,
} from 'node-av/constants';
import type { Logger } from 'pino';
import type { CanvasSize, VideoCodec, View } from '../../src/domain.js';
import { SampledLog } from '../../src/log.js';
import '../ffmpegLibraries.js';

/** One encoded picture: a VP8 frame, or an H.264 access unit in Annex B (with SPS and PPS before every IDR). */
export interface EncodedVideoFrame {
  data: Buffer;
  keyframe: boolean;
  /** RTP clock, 90 kHz */
  timestamp: number;
}

export interface VideoEncoderOptions {
  codec: VideoCodec;
  size: CanvasSize;
  fps: number;
  bitrateKbps: number;
  log: Logger;
  onFrame(frame: EncodedVideoFrame): void;
}

interface EncoderSettings {
  encoder: FFVideoEncoder;
  options: [name: string, value: string][];
}

/**
 * The one table of encoder settings: libavcodec AVOptions (name, value as the FFmpeg CLI spells it). The server's
 * encoder sets them with av_opt_set, the benchmark's bare FFmpeg gets them as `-name:v value`, so the floor it
 * measures is always the same encoder work. `forced-idr` only matters to the server (the CLI never forces a
 * keyframe): x264 makes a forced keyframe an IDR anyway in its closed GOPs; this says so explicitly.
 */
const CODEC_SETTINGS: Record<VideoCodec, EncoderSettings> = {
  VP8: {
    encoder: FF_ENCODER_LIBVPX_VP8,
    options: [['deadline', 'realtime'], ['cpu-used', '-16'], ['lag-in-frames', '0'], ['error-resilient', '1']],
  },
  H264: {
    encoder: FF_ENCODER_LIBX264,
    options: [
      ['preset', 'ultrafast'], ['tune', 'zerolatency'], ['profile', 'baseline'], ['level', '3.1'], ['bf', '0'],
      // SPS and PPS in band before every IDR: a subscriber can start at any keyframe.
      ['x264-params', 'repeat-headers=1'], ['forced-idr', '1'],
    ],
  },
};

/** The canvas format, for the CLI and for libavcodec. */
const PIXEL_FORMAT = { name: 'yuv420p', native: AV_PIX_FMT_YUV420P } as const;

function encoderSettings(view: Pick<View, 'codec' | 'fps' | 'videoBitrateKbps'>): EncoderSettings {
  const { encoder, options } = CODEC_SETTINGS[view.codec];
  const gop = String(view.fps * 2);
  return { encoder, options: [...options, ['threads', '1'], ['g', gop], ['keyint_min', gop], ['b', `${view.videoBitrateKbps}k`]] };
}

/** How a view's canvas is encoded, as FFmpeg CLI arguments: what the benchmark's bare FFmpeg runs (-threads 1, same gop, bitrate and options as VideoEncoder). */
export function videoEncodeArgs(view: Pick<View, 'codec' | 'fps' | 'videoBitrateKbps'>): string[] {
  const { encoder, options } = encoderSettings(view);
  return ['-c:v', encoder, ...options.flatMap(([name, value]) => [`-${name}:v`, value]), '-pix_fmt:v', PIXEL_FORMAT.name];
}

/** Bytes of a contiguous I420 picture of this size. */
function i420Bytes(size: CanvasSize): number {
  return size.width * size.height + 2 * ((size.width + 1) >> 1) * ((size.height + 1) >> 1);
}

const RTP_CLOCK = 90_000;

/**
 * A view's encoder, in process: libvpx or libx264 through node-av, alive as long as the view's codec and size.
 * Canvases go in one at a time (the native calls run on libuv's thread pool); encoded pictures come out through
 * `onFrame`. Nothing here throws at the caller: a native failure is counted and logged (sampled).
 */
export class VideoEncoder {
  /** `rejected`: canvases of the wrong size; `failed`: native errors (and exceptions from onFrame). */
  readonly counts = { encoded: 0, keyframes: 0, bytes: 0, rejected: 0, failed: 0 };
  private readonly context = new CodecContext();
  /** One native frame reused for every canvas. */
  private readonly frame = new Frame();
  private readonly packet = new Packet();
  private readonly canvasBytes: number;
  private readonly sampledLog: SampledLog;
  private opened = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** The one native operation in flight (the opening, or an encode): never two at once on the context. */
  private inFlight: Promise<void> | undefined;
  private keyframeRequested = false;
  private lastTimestamp: number | undefined;
  private elapsedTicks = 0;
  private lastPts = -1;

  constructor(private readonly options: VideoEncoderOptions) {
    this.canvasBytes = i420Bytes(options.size);
    this.sampledLog = new SampledLog(options.log);
    this.frame.alloc();
    this.packet.alloc();
    this.track(this.open());
  }

  /** The encoder can take a canvas now (the previous one is done); a compositor skips its tick otherwise. */
  get ready(): boolean {
    return this.opened && !this.closed && !this.inFlight;
  }

  /** Encodes one I420 canvas of the configured size (contiguous Y, U, V), stamped `timestamp` (90 kHz). The caller may reuse `canvas` as soon as this returns (copy it into the native frame first). Ignored when not ready or closed. */
  encode(canvas: Buffer, timestamp: number): void {
    if (!this.ready) return;
    if (canvas.length !== this.canvasBytes) {
      this.counts.rejected++;
      this.sampledLog.warn('video-encoder-canvas-size', { codec: this.options.codec, bytes: canvas.length, expected: this.canvasBytes }, 'canvas of the wrong size not encoded');
      return;
    }
    // The encoder may still hold a reference to the last picture: writing then would change what it encodes.
    const writable = this.frame.makeWritable();
    const planes = this.frame.data;
    if (writable < 0 || !planes) return this.failed('make the frame writable', writable);
    copyI420(canvas, planes, this.frame.linesize, this.options.size);
    this.frame.pts = this.ptsOf(timestamp);
    // libvpx turns a picture type I into VPX_EFLAG_FORCE_KF, libx264 into an IDR (forced-idr).
    const forceKeyframe = this.keyframeRequested;
    this.keyframeRequested = false;
    this.frame.pictType = forceKeyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    this.track(this.run(timestamp, forceKeyframe));
  }

  /** The next canvas encoded is a keyframe (VP8 key frame; H.264 IDR with SPS/PPS). No restart, no new context. */
  requestKeyframe(): void {
    this.keyframeRequested = true;
  }

  /** Waits for the encode in flight, frees every native object. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.release();
    return this.closing;
  }

  private async release(): Promise<void> {
    this.closed = true;
    await this.inFlight;
    this.packet.free();
    this.frame.free();
    this.context.freeContext();
  }

  private track(operation: Promise<void>): void {
    const tracked = operation.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined;
    });
    this.inFlight = tracked;
  }

  private async open(): Promise<void> {
    const { codec, size, fps, bitrateKbps, log } = this.options;
    const { encoder: name, options } = encoderSettings({ codec, fps, videoBitrateKbps: bitrateKbps });
    try {
      const encoder = Codec.findEncoderByName(name);
      if (!encoder) throw new Error(`node-av has no ${name} encoder`);
      this.context.allocContext3(encoder);
      this.context.width = size.width;
      this.context.height = size.height;
      this.context.pixelFormat = PIXEL_FORMAT.native;
      this.context.timeBase = new Rational(1, fps);
      this.context.framerate = new Rational(fps, 1);
      for (const [option, value] of options) check(this.context.setOption(option, value), `option ${option}=${value}`);
      check(await this.context.open2(encoder), 'open');
      this.frame.width = size.width;
      this.frame.height = size.height;
      this.frame.format = PIXEL_FORMAT.native;
      check(this.frame.allocBuffer(), 'allocate the frame');
      this.opened = !this.closed;
    } catch (error) {
      this.counts.failed++;
      log.error({ err: error, codec, encoder: name, size }, 'video encoder not opened: the view gets no video');
    }
  }

  private async run(timestamp: number, forcedKeyframe: boolean): Promise<void> {
    try {
      const sent = await this.context.sendFrame(this.frame);
      if (sent < 0) return this.failed('send a frame', sent, forcedKeyframe);
      for (;;) {
        const received = await this.context.receivePacket(this.packet);
        if (received === AVERROR_EAGAIN || received === AVERROR_EOF) return;
        if (received < 0) return this.failed('receive a packet', received, forcedKeyframe);
        // packet.data is a view of native memory that the next receivePacket reuses: copy it.
        const data = Buffer.from(this.packet.data ?? []);
        const keyframe = this.packet.isKeyframe;
        this.packet.unref();
        this.counts.encoded++;
        this.counts.bytes += data.length;
        if (keyframe) this.counts.keyframes++;
        // Both encoders are set for no delay (lag-in-frames 0, zerolatency, no B-frames): a packet is the picture just sent.
        if (!this.closed) this.options.onFrame({ data, keyframe, timestamp });
      }
    } catch (error) {
      this.counts.failed++;
      this.sampledLog.warn('video-encoder-failed', { codec: this.options.codec, err: error }, 'video encode failed');
    }
  }

  private failed(what: string, code: number, forcedKeyframe = false): void {
    this.counts.failed++;
    // A keyframe asked for and lost with the failed picture is asked for again.
    if (forcedKeyframe) this.keyframeRequested = true;
    this.sampledLog.warn('video-encoder-failed', { codec: this.options.codec, what, error: FFmpegError.strerror(code) }, 'video encode failed');
  }

  /**
   * The frame's pts in 1/fps from the RTP timestamps (wrapping at 2^32): ticks the compositor skipped show as
   * gaps, so the rate control spends the bitrate over real time. Always increasing, as libx264 requires.
   */
  private ptsOf(timestamp: number): bigint {
    if (this.lastTimestamp !== undefined) {
      const delta = (timestamp - this.lastTimestamp) >>> 0;
      // A timestamp that went back (a delta past half the clock) adds no time.
      if (delta < 0x8000_0000) this.elapsedTicks += delta;
    }
    this.lastTimestamp = timestamp;
    this.lastPts = Math.max(Math.round((this.elapsedTicks * this.options.fps) / RTP_CLOCK), this.lastPts + 1);
    return BigInt(this.lastPts);
  }
}

function check(code: number, what: string): void {
  if (code < 0) throw new Error(`${what}: ${FFmpegError.strerror(code)}`);
}

/**
 * Copies a contiguous I420 canvas into the frame's planes (views of native memory): one copy per plane, row by
 * row only where FFmpeg padded the lines. Not Frame.fromBuffer: it points the planes at the JS buffer
 * (av_image_fill_arrays) instead of copying, and the caller reuses its canvas.
 */
function copyI420(canvas: Buffer, planes: Buffer[], linesizes: number[], size: CanvasSize): void {
  const chromaWidth = (size.width + 1) >> 1;
  const chromaHeight = (size.height + 1) >> 1;
  let offset = copyPlane(canvas, 0, planes[0]!, linesizes[0]!, size.width, size.height);
  offset = copyPlane(canvas, offset, planes[1]!, linesizes[1]!, chromaWidth, chromaHeight);
  copyPlane(canvas, offset, planes[2]!, linesizes[2]!, chromaWidth, chromaHeight);
}

function copyPlane(source: Buffer, offset: number, plane: Buffer, stride: number, width: number, rows: number): number {
  const end = offset + width * rows;
  if (stride === width) {
    source.copy(plane, 0, offset, end);
    return end;
  }
  for (let row = 0; row < rows; row++) source.copy(plane, row * stride, offset + row * width, offset + (row + 1) * width);
  return end;
}
