import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { View } from '../../src/domain.js';
import { Compositor, type PictureSource } from '../views/compositor.js';
import { packetizeH264, packetizeVp8 } from '../rtp/packetizer.js';
import { VideoEncoder, type EncodedVideoFrame } from './videoEncoder.js';

/**
 * An RTP packet of a view's stream, packetized once for all its subscribers. Its payload is never written
 * to again (werift keeps it for retransmissions); each subscriber sends it under its own header.
 */
export interface EncodedPacket {
  payload: Buffer;
  sequence: number;
  timestamp: number;
  marker: boolean;
  /** It begins a keyframe: a subscriber may start or switch here. */
  keyframeStart: boolean;
}

/** Receives every RTP packet a view's stream produces. */
export interface PacketSink {
  deliver(stream: ViewStream, packet: EncodedPacket): void;
}

/** Forced keyframes of one stream, at most one per this many ms: a subscriber sending PLI after PLI must not make every frame a keyframe for all. */
const KEYFRAME_SPACING_MS = 200;

/** What an encoder is bound to: a view may change in anything else and keep its encoder. */
export function encoderSettingsKey(view: View): string {
  return JSON.stringify([view.codec, view.canvas.width, view.canvas.height, view.fps, view.videoBitrateKbps]);
}

/**
 * One distinct view of a room: its compositor and the encoder that turns its canvases into RTP for all its
 * subscribers. The encoder lives as long as the view's codec and size: a join, a leave, a layout or speaker
 * change only changes what is drawn. RTP timestamps come from one 90 kHz clock for every stream of the
 * process, so a subscriber moving to another stream needs only its sequence numbers continued.
 */
export class ViewStream {
  readonly sinks = new Set<PacketSink>();
  readonly settingsKey: string;
  private readonly compositor: Compositor;
  private readonly encoder: VideoEncoder;
  private sequence = randomInt(0x10000);
  private pictureId = randomInt(0x8000);
  private lastKeyframeAskedAt = -Infinity;
  private keyframeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(view: View, pictures: PictureSource, log: Logger) {
    this.settingsKey = encoderSettingsKey(view);
    const encoder = (this.encoder = new VideoEncoder({
      codec: view.codec,
      size: view.canvas,
      fps: view.fps,
      bitrateKbps: view.videoBitrateKbps,
      log,
      onFrame: (frame) => this.send(frame),
    }));
    this.compositor = new Compositor(view, pictures);
    this.compositor.sink = {
      get ready() {
        return encoder.ready;
      },
      write: (canvas, slotMs) => encoder.encode(canvas, Math.round(slotMs * 90) >>> 0),
    };
  }

  get view(): View {
    return this.compositor.view;
  }

  /** What the stream shows from its next frame on; the encoder's settings stay. */
  set view(view: View) {
    if (encoderSettingsKey(view) !== this.settingsKey) throw new Error('a view stream cannot change its codec, size, rate or bitrate');
    this.compositor.view = view;
  }

  get framesRendered(): number {
    return this.compositor.framesRendered;
  }

  get framesDropped(): number {
    return this.compositor.framesDropped;
  }

  get framesEncoded(): number {
    return this.encoder.counts.encoded;
  }

  /** The next frame is a keyframe, or the first one after the spacing since the last forced one. */
  requestKeyframe(): void {
    if (this.closed || this.keyframeTimer) return;
    const wait = this.lastKeyframeAskedAt + KEYFRAME_SPACING_MS - performance.now();
    const ask = (): void => {
      this.keyframeTimer = undefined;
      this.lastKeyframeAskedAt = performance.now();
      this.encoder.requestKeyframe();
    };
    if (wait <= 0) ask();
    else this.keyframeTimer = setTimeout(ask, wait);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.keyframeTimer);
    this.compositor.stop();
    this.sinks.clear();
    await this.encoder.close();
  }

  private send(frame: EncodedVideoFrame): void {
    if (this.closed) return;
    let payloads: Buffer[];
    if (this.view.codec === 'VP8') {
      payloads = packetizeVp8(frame.data, this.pictureId);
      this.pictureId = (this.pictureId + 1) & 0x7fff;
    } else {
      payloads = packetizeH264(frame.data);
    }
    payloads.forEach((payload, index) => {
      const sequence = this.sequence;
      this.sequence = (this.sequence + 1) & 0xffff;
      const packet = { payload, sequence, timestamp: frame.timestamp, marker: index === payloads.length - 1, keyframeStart: frame.keyframe && index === 0 };
      for (const sink of this.sinks) sink.deliver(this, packet);
    });
  }
}
