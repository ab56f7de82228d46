import type { Logger } from 'pino';
import type { CanvasSize, VideoCodec } from '../../src/domain.js';
import type { Picture } from '../views/frames.js';
import { H264Depacketizer, Vp8Depacketizer, type Depacketizer } from '../rtp/depacketizer.js';
import type { RtpFields } from '../rtp/packet.js';
import { ReorderBuffer } from '../rtp/reorder.js';
import { VideoDecoder } from './videoDecoder.js';

/** A member whose picture is older than this is shown as their placeholder. */
const STALLED_MS = 3000;
/** Keyframe requests to one browser, at most one per this many ms. */
const KEYFRAME_REQUEST_INTERVAL_MS = 500;
/** A member's decoder changes codec at most once per this many ms: a browser flipping codecs must not make one per packet. */
const CODEC_CHANGE_INTERVAL_MS = 2000;

interface Decoding {
  codec: VideoCodec;
  startedAt: number;
  reorder: ReorderBuffer;
  depacketizer: Depacketizer;
  decoder: VideoDecoder;
}

/**
 * One member's incoming video: RTP put in order, reassembled into frames, decoded, and scaled to every tile
 * size some view draws the member at. Whatever the member sends, the worst outcome is their own
 * placeholder and a keyframe request.
 */
export class MemberVideo {
  private current: Decoding | undefined;
  /** Decoders started so far: one, and another for each codec change. */
  decodersStarted = 0;
  private sizes: readonly CanvasSize[] = [];
  private pictureAt = -Infinity;
  private keyframeRequestedAt = -Infinity;
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly askKeyframe: () => void,
  ) {}

  /** A decoder is running (the member has sent video). */
  get decoding(): boolean {
    return this.current !== undefined;
  }

  receive(packet: RtpFields, codec: VideoCodec): void {
    if (this.closed) return;
    let decoding = this.current;
    if (decoding?.codec !== codec) {
      if (decoding && performance.now() - decoding.startedAt < CODEC_CHANGE_INTERVAL_MS) return;
      this.stopDecoding();
      decoding = this.current = this.startDecoding(codec);
    }
    decoding.reorder.push(packet);
  }

  /** The tile sizes the member is drawn at now. */
  setSizes(sizes: readonly CanvasSize[]): void {
    this.sizes = sizes;
    this.current?.decoder.setSizes(sizes);
  }

  /** The member's latest picture at a tile's size, or undefined (none yet, or stalled) for the placeholder. */
  picture(size: CanvasSize): Picture | undefined {
    if (performance.now() - this.pictureAt >= STALLED_MS) return undefined;
    return this.current?.decoder.picture(size);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stopDecoding();
  }

  private startDecoding(codec: VideoCodec): Decoding {
    this.decodersStarted++;
    const depacketizer = codec === 'VP8' ? new Vp8Depacketizer() : new H264Depacketizer();
    const decoder = new VideoDecoder({
      codec,
      log: this.log,
      onNeedKeyframe: () => this.requestKeyframe(true),
      onPicture: () => (this.pictureAt = performance.now()),
    });
    decoder.setSizes(this.sizes);
    const reorder = new ReorderBuffer(
      (packet) => {
        const frame = depacketizer.push(packet);
        if (frame) decoder.write(frame);
        else if (depacketizer.needsKeyframe && packet.marker) this.requestKeyframe(false);
      },
      () => {
        depacketizer.lost();
        this.requestKeyframe(false);
      },
    );
    return { codec, startedAt: performance.now(), reorder, depacketizer, decoder };
  }

  private stopDecoding(): Promise<void> {
    const decoding = this.current;
    this.current = undefined;
    decoding?.reorder.close();
    return decoding?.decoder.close() ?? Promise.resolve();
  }

  /** Asks the member's browser for a keyframe, at most every so often unless the decoder cannot go on without one. */
  private requestKeyframe(urgent: boolean): void {
    const now = performance.now();
    if (now - this.keyframeRequestedAt < (urgent ? KEYFRAME_REQUEST_INTERVAL_MS / 5 : KEYFRAME_REQUEST_INTERVAL_MS)) return;
    this.keyframeRequestedAt = now;
    this.askKeyframe();
  }
}
