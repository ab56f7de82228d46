import { Codec, CodecContext, FFmpegError, Frame, Packet, SoftwareScaleContext } from 'node-av';
import {
  AV_CODEC_FLAG_LOW_DELAY, AV_CODEC_ID_H264, AV_CODEC_ID_VP8, AV_FRAME_FLAG_CORRUPT, AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P, AVERROR_EAGAIN, AVERROR_EOF,
  SWS_FAST_BILINEAR,
} from 'node-av/constants';
import type { Logger } from 'pino';
import type { CanvasSize, VideoCodec } from '../../src/domain.js';
import { pictureBytes, type Picture } from '../views/frames.js';
import type { EncodedFrame } from '../rtp/depacketizer.js';
// libavcodec would write a line to stderr for every broken frame a member sends: failures are counted here instead.
import '../ffmpegLibraries.js';

/** Frames that may wait while one decodes: beyond this the decoder is behind, and catching up by dropping beats building latency. */
const MAX_QUEUED_FRAMES = 3;
/** Larger pictures (a hostile SPS claiming 16k×16k) are refused by the decoder instead of allocating hundreds of MB. 4096×2304 holds any camera or screen a browser sends. */
const MAX_PIXELS = 4096 * 2304;

export interface VideoDecoderOptions {
  codec: VideoCodec;
  log: Logger;
  /** The decoder needs a keyframe: at start, after a frame that failed to decode, after frames were dropped. Called at most once per frame written; the caller rate-limits. */
  onNeedKeyframe(): void;
  /** A frame was decoded and the pictures of every size in setSizes() are ready. */
  onPicture?(): void;
}

interface Crop {
  x: number;
  y: number;
  width: number;
  height: number;
}

const even = (value: number): number => 2 * Math.floor(value / 2);

/**
 * The part of a source that, scaled to `target`, covers it: scale = max(w/srcW, h/srcH), the excess cut equally
 * on both sides (as mixer/frames.ts always did), even offsets so the chroma planes crop on whole samples.
 */
function coverCrop(source: CanvasSize, target: CanvasSize): Crop {
  const scale = Math.max(target.width / source.width, target.height / source.height);
  const width = Math.min(source.width, Math.max(2, 2 * Math.round(target.width / scale / 2)));
  const height = Math.min(source.height, Math.max(2, 2 * Math.round(target.height / scale / 2)));
  return { x: even((source.width - width) / 2), y: even((source.height - height) / 2), width, height };
}

const sizeKey = (size: CanvasSize): string => `${size.width}x${size.height}`;

/**
 * A libswscale context from `source` (crop) to `target`, yuv420p, fast bilinear (as the CLI's benchmark floor).
 * Allocated, given options and initialised once: node-av's getContext() is sws_getContext, already initialised,
 * and an initContext() after it allocates everything again and leaks the first set (about 30 KB a context).
 */
function swsContext(source: CanvasSize & { format: number }, target: CanvasSize): SoftwareScaleContext {
  const context = new SoftwareScaleContext();
  context.allocContext();
  const options: [string, number][] = [
    ['srcw', source.width], ['srch', source.height], ['src_format', source.format],
    ['dstw', target.width], ['dsth', target.height], ['dst_format', AV_PIX_FMT_YUV420P],
    ['sws_flags', SWS_FAST_BILINEAR],
  ];
  // A yuvj420p source is given as such: libswscale then converts its full range to the canvas's limited range.
  if (options.some(([name, value]) => context.setOption(name, value) < 0) || context.initContext() < 0) {
    context.freeContext();
    throw new Error(`swscale refused format ${source.format} ${sizeKey(source)} → ${sizeKey(target)}`);
  }
  return context;
}

/** A decoded picture in a planar 4:2:0 format that the scalers read without a copy. */
const isPlanar420 = (format: number): boolean => format === AV_PIX_FMT_YUV420P || format === AV_PIX_FMT_YUVJ420P;

/**
 * Scales the centre crop of 4:2:0 frames of one geometry (format, width, height) to one target size, into
 * contiguous I420. The crop is done by starting each source plane at the crop's corner (a view of the frame's
 * own memory) and telling libswscale the crop's width and height: no copy.
 */
class CoverScaler {
  readonly source: string;
  private readonly crop: Crop;
  private readonly context: SoftwareScaleContext;

  constructor(frame: Frame, private readonly target: CanvasSize) {
    this.source = CoverScaler.geometry(frame);
    this.crop = coverCrop(frame, target);
    this.context = swsContext({ ...this.crop, format: frame.format }, target);
  }

  static geometry(frame: Frame): string {
    return `${frame.format}:${frame.width}x${frame.height}`;
  }

  /** The frame must stay referenced, and this scaler unused by anyone else, until the promise settles. */
  async scale(frame: Frame, into: Buffer): Promise<void> {
    const source = this.sourcePlanes(frame);
    const ret = await this.context.scale(source.planes, source.strides, 0, this.crop.height, this.targetPlanes(into), this.targetStrides());
    if (ret < 0) throw new Error(`swscale failed (${ret})`);
  }

  scaleSync(frame: Frame, into: Buffer): void {
    const source = this.sourcePlanes(frame);
    const ret = this.context.scaleSync(source.planes, source.strides, 0, this.crop.height, this.targetPlanes(into), this.targetStrides());
    if (ret < 0) throw new Error(`swscale failed (${ret})`);
  }

  free(): void {
    this.context.freeContext();
  }

  private sourcePlanes(frame: Frame): { planes: Buffer[]; strides: number[] } {
    const data = frame.data;
    const strides = frame.linesize.slice(0, 3);
    if (!data || data.length < 3 || strides.some((stride) => stride <= 0)) throw new Error('decoded frame without its three planes');
    const { x, y } = this.crop;
    const planes = [
      data[0]!.subarray(y * strides[0]! + x),
      data[1]!.subarray((y / 2) * strides[1]! + x / 2),
      data[2]!.subarray((y / 2) * strides[2]! + x / 2),
    ];
    return { planes, strides };
  }

  private targetPlanes(into: Buffer): Buffer[] {
    const luma = this.target.width * this.target.height;
    return [into.subarray(0, luma), into.subarray(luma, luma + luma / 4), into.subarray(luma + luma / 4, luma + luma / 2)];
  }

  private targetStrides(): number[] {
    return [this.target.width, this.target.width / 2, this.target.width / 2];
  }
}

/**
 * The pictures of one tile size, double-buffered: a scale writes into `buffers[writeIndex]`, never into the
 * published one, so a published picture stays unchanged until the next is published.
 */
interface SizedPictures {
  size: CanvasSize;
  buffers: [Buffer, Buffer];
  writeIndex: 0 | 1;
  published: Picture | undefined;
  scaler: CoverScaler | undefined;
}

/**
 * One member's video decoder, in process: VP8 frames or H.264 access units in, I420 pictures out at every tile
 * size some view draws the member at. libavcodec and libswscale run on libuv's thread pool (node-av's async
 * calls), one call at a time: frames go through a short queue, a decoder that falls behind drops frames and
 * waits for a keyframe. Whatever the bytes, nothing throws: a frame that fails is counted, and the decoder
 * asks for a keyframe and waits for it.
 */
export class VideoDecoder {
  readonly counts = { decoded: 0, failed: 0, dropped: 0 };
  /** libavcodec's decoder; none when it did not open (frames are then dropped). */
  private context: CodecContext | undefined;
  private readonly packet = new Packet();
  /** What the decoder puts out, unreferenced after each use. */
  private readonly decoded = new Frame();
  /** A decoded frame of another pixel format, converted to yuv420p. */
  private readonly converted = new Frame();
  private converter: { geometry: string; context: SoftwareScaleContext } | undefined;
  /** A reference to the newest frame published: what picture() scales a size nobody asked for before from. */
  private readonly latest = new Frame();
  private hasLatest = false;
  private sizes: CanvasSize[] = [];
  private readonly pictures = new Map<string, SizedPictures>();
  private queue: EncodedFrame[] = [];
  private waitingForKeyframe = true;
  /** The last frame decoded well: a failure after it is logged (once per failing stretch, at debug). */
  private healthy = false;
  /** The chain of native work: opening, then draining the queue, one call at a time. */
  private work: Promise<void>;
  private draining = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: VideoDecoderOptions) {
    this.packet.alloc();
    this.decoded.alloc();
    this.converted.alloc();
    this.latest.alloc();
    this.work = this.open();
  }

  setSizes(sizes: readonly CanvasSize[]): void {
    const unique = new Map(sizes.map((size) => [sizeKey(size), { width: size.width, height: size.height }]));
    this.sizes = [...unique.values()];
  }

  picture(size: CanvasSize): Picture | undefined {
    const known = this.pictures.get(sizeKey(size));
    if (known?.published) return known.published;
    if (!this.hasLatest || this.closing) return undefined;
    const pictures = known ?? this.sizedPictures(size);
    // An async scale of this size may be in flight, on this size's scaler into buffers[writeIndex]: a scaler
    // of its own, into the other buffer (which the next publish then leaves alone).
    const index = pictures.writeIndex === 0 ? 1 : 0;
    let scaler: CoverScaler | undefined;
    try {
      scaler = new CoverScaler(this.latest, size);
      scaler.scaleSync(this.latest, pictures.buffers[index]);
    } catch (error) {
      this.options.log.debug({ err: error, size }, 'latest video frame could not be scaled');
      return undefined;
    } finally {
      scaler?.free();
    }
    pictures.published = { ...pictures.size, data: pictures.buffers[index] };
    return pictures.published;
  }

  write(frame: EncodedFrame): void {
    if (this.closing) return;
    if (this.waitingForKeyframe) {
      if (!frame.keyframe) {
        this.counts.dropped++;
        this.options.onNeedKeyframe();
        return;
      }
      this.waitingForKeyframe = false;
    }
    if (this.queue.length >= MAX_QUEUED_FRAMES) {
      // Behind: what waits is stale. A keyframe starts afresh; anything else would decode against missing references.
      this.counts.dropped += this.queue.length;
      this.queue = [];
      if (!frame.keyframe) {
        this.counts.dropped++;
        this.waitingForKeyframe = true;
        this.options.onNeedKeyframe();
        return;
      }
    }
    this.queue.push(frame);
    if (!this.draining) {
      this.draining = true;
      // A callback that throws must not break the chain: close() waits on it to free everything.
      this.work = this.work.then(() => this.drain()).catch((error: unknown) => this.options.log.error({ err: error }, 'video decoder callback failed'));
    }
  }

  close(): Promise<void> {
    this.closing ??= this.work.then(() => this.free());
    return this.closing;
  }

  /** A fresh libavcodec decoder in `context`, or none (logged: it is not the sender's doing). */
  private async open(): Promise<void> {
    const context = new CodecContext();
    try {
      const codec = Codec.findDecoder(this.options.codec === 'VP8' ? AV_CODEC_ID_VP8 : AV_CODEC_ID_H264);
      if (!codec) throw new Error(`node-av has no ${this.options.codec} decoder`);
      context.allocContext3(codec);
      context.threadCount = 1;
      // Show each picture as soon as it is decoded: browsers send no B-frames, nothing to reorder.
      context.flags = AV_CODEC_FLAG_LOW_DELAY;
      context.setOption('max_pixels', MAX_PIXELS);
      const ret = await context.open2(codec);
      if (ret < 0) throw new Error(`open2: ${FFmpegError.strerror(ret)}`);
      this.context = context;
    } catch (error) {
      context.freeContext();
      this.options.log.error({ err: error, codec: this.options.codec }, 'video decoder did not open; its frames are dropped');
    }
  }

  private async drain(): Promise<void> {
    try {
      // Closing stops after the frame in hand; what still waits is counted as dropped when everything is freed.
      while (!this.closing) {
        const frame = this.queue.shift();
        if (!frame) break;
        if (this.context) await this.decode(this.context, frame);
        else this.counts.dropped++;
      }
    } finally {
      this.draining = false;
    }
  }

  /** One frame through the decoder, and every picture it yields published. */
  private async decode(context: CodecContext, frame: EncodedFrame): Promise<void> {
    try {
      // An empty packet would put libavcodec into draining (end of stream) mode.
      if (frame.data.length === 0) throw new Error('empty frame');
      await this.decodePacket(context, frame.data);
      this.counts.decoded++;
    } catch (error) {
      await this.failed(error);
    }
  }

  private async decodePacket(context: CodecContext, data: Buffer): Promise<void> {
    try {
      this.packet.data = data;
      let pictures = 0;
      let ret = await context.sendPacket(this.packet);
      // Not expected (every send is followed by a full drain), but the API allows it: drain, send again.
      if (ret === AVERROR_EAGAIN) {
        pictures += await this.receivePictures(context);
        ret = await context.sendPacket(this.packet);
      }
      if (ret < 0) throw new Error(`sendPacket: ${FFmpegError.strerror(ret)}`);
      pictures += await this.receivePictures(context);
      // Browsers send one picture per frame (H.264 in the constrained baseline profile we negotiate has no
      // B-frames, VP8 in real time no hidden frames). None means a broken frame libavcodec took without an
      // error, e.g. an SPS whose reorder depth would hold every picture back from then on.
      if (pictures === 0) throw new Error('no picture');
    } finally {
      this.packet.unref();
    }
  }

  /** Publishes every picture the decoder has ready; how many. */
  private async receivePictures(context: CodecContext): Promise<number> {
    for (let pictures = 0; ; pictures++) {
      const ret = await context.receiveFrame(this.decoded);
      if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) return pictures;
      if (ret < 0) throw new Error(`receiveFrame: ${FFmpegError.strerror(ret)}`);
      try {
        // Concealed errors: a picture of garbage, and the frames after it would build on it.
        if (this.decoded.decodeErrorFlags !== 0 || this.decoded.hasFlags(AV_FRAME_FLAG_CORRUPT)) throw new Error(`decode error flags ${this.decoded.decodeErrorFlags}`);
        await this.publish(await this.planar420(this.decoded));
      } finally {
        this.decoded.unref();
      }
    }
  }

  /** The decoded frame itself if 4:2:0 planar, else its conversion to yuv420p (a format a hostile sender chose). */
  private async planar420(frame: Frame): Promise<Frame> {
    if (isPlanar420(frame.format)) return frame;
    const geometry = CoverScaler.geometry(frame);
    if (this.converter?.geometry !== geometry) {
      this.converter?.context.freeContext();
      this.converter = undefined;
      this.converter = { geometry, context: swsContext(frame, frame) };
    }
    // A new buffer each time: `latest` may still reference the previous one.
    this.converted.unref();
    this.converted.format = AV_PIX_FMT_YUV420P;
    this.converted.width = frame.width;
    this.converted.height = frame.height;
    if (this.converted.allocBuffer() < 0) throw new Error('no buffer for a converted frame');
    const ret = await this.converter.context.scaleFrame(this.converted, frame);
    if (ret < 0) throw new Error(`swscale conversion failed (${ret})`);
    return this.converted;
  }

  /** Scales a decoded frame to every size asked for (in parallel: each size has its own scaler), then keeps it as the latest. */
  private async publish(frame: Frame): Promise<void> {
    this.forgetUnusedSizes();
    // allSettled: the frame is unreferenced after this, so no scale may still be reading it.
    const scaled = await Promise.allSettled(this.sizes.map((size) => this.scaleInto(this.sizedPictures(size), frame)));
    const failure = scaled.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    this.latest.unref();
    if (this.latest.ref(frame) < 0) throw new Error('no reference to the latest frame');
    this.hasLatest = true;
    this.healthy = true;
    this.options.onPicture?.();
  }

  private async scaleInto(pictures: SizedPictures, frame: Frame): Promise<void> {
    if (pictures.scaler?.source !== CoverScaler.geometry(frame)) {
      // The sender changed resolution (or this is the first frame): a scaler for the new geometry.
      pictures.scaler?.free();
      pictures.scaler = undefined;
      pictures.scaler = new CoverScaler(frame, pictures.size);
    }
    const index = pictures.writeIndex;
    await pictures.scaler.scale(frame, pictures.buffers[index]);
    pictures.published = { ...pictures.size, data: pictures.buffers[index] };
    pictures.writeIndex = index === 0 ? 1 : 0;
  }

  private sizedPictures(size: CanvasSize): SizedPictures {
    const key = sizeKey(size);
    let pictures = this.pictures.get(key);
    if (!pictures) {
      const bytes = pictureBytes(size);
      pictures = { size: { width: size.width, height: size.height }, buffers: [Buffer.alloc(bytes), Buffer.alloc(bytes)], writeIndex: 0, published: undefined, scaler: undefined };
      this.pictures.set(key, pictures);
    }
    return pictures;
  }

  /** Sizes no view draws any more. Called between native calls only, so no scaler freed here is in use. */
  private forgetUnusedSizes(): void {
    const wanted = new Set(this.sizes.map(sizeKey));
    for (const [key, pictures] of this.pictures) {
      if (wanted.has(key)) continue;
      pictures.scaler?.free();
      this.pictures.delete(key);
    }
  }

  /** A frame that did not decode: dropped, the decoder replaced, and nothing more until a keyframe. */
  private async failed(reason: unknown): Promise<void> {
    this.counts.failed++;
    if (this.healthy) {
      this.options.log.debug({ codec: this.options.codec, reason: String(reason) }, 'video frame failed to decode; waiting for a keyframe');
      this.healthy = false;
    }
    const keyframe = this.queue.findIndex((frame) => frame.keyframe);
    const stale = keyframe < 0 ? this.queue.length : keyframe;
    this.counts.dropped += stale;
    this.queue.splice(0, stale);
    if (keyframe < 0) {
      this.waitingForKeyframe = true;
      this.options.onNeedKeyframe();
    }
    // A new decoder, not avcodec_flush_buffers: libavcodec's H.264 decoder carries damage past a flush and the
    // next IDR (after one concealed slice, the following pictures came out with their V plane unwritten, in
    // FFmpeg 5.1 and 8 alike). Frames already decoded keep their buffers (reference-counted).
    this.context?.freeContext();
    this.context = undefined;
    await this.open();
  }

  private free(): void {
    this.counts.dropped += this.queue.length;
    this.queue = [];
    for (const pictures of this.pictures.values()) pictures.scaler?.free();
    this.converter?.context.freeContext();
    this.converter = undefined;
    this.hasLatest = false;
    this.latest.free();
    this.converted.free();
    this.decoded.free();
    this.packet.free();
    this.context?.freeContext();
    this.context = undefined;
  }
}
