import { createSocket, type Socket } from 'node:dgram';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { View } from '../src/domain.js';
import { Compositor, type PictureSource } from './compositor.js';
import { SupervisedFfmpeg } from './ffmpeg.js';
import { isH264KeyframeStart, isVp8KeyframeStart } from './rtp/depacketizer.js';
import { parseRtp } from './rtp/packet.js';

/** An RTP packet of a pipeline's encoder, read once for all its subscribers. */
export interface EncodedPacket {
  bytes: Buffer;
  sequence: number;
  timestamp: number;
  /** It begins a keyframe: a subscriber may start or switch here. */
  keyframeStart: boolean;
}

/** Receives every RTP packet a pipeline's encoder produces. */
export interface PacketSink {
  deliver(pipeline: ViewPipeline, packet: EncodedPacket): void;
}

const PAYLOAD_TYPE = 96;
const OUTPUT_SSRC = 0x434d4355; // "CMCU"; werift puts each subscriber's own SSRC on the wire anyway

/** FFmpeg's input of raw canvases from Node: the same for every encoder of views. */
export function canvasInputArgs(view: View): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${view.canvas.width}x${view.canvas.height}`, '-r', String(view.fps), '-i', 'pipe:0'];
}

/** How a view's canvas is encoded for WebRTC (also what the mixer benchmark's bare FFmpeg does). */
export function videoEncodeArgs(view: Pick<View, 'codec' | 'fps' | 'videoBitrateKbps'>): string[] {
  const gop = String(view.fps * 2);
  const codec =
    view.codec === 'VP8'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '-16', '-lag-in-frames', '0', '-error-resilient', '1']
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1', '-bf', '0', '-x264-params', 'repeat-headers=1'];
  return [...codec, '-threads', '1', '-g', gop, '-keyint_min', gop, '-b:v', `${view.videoBitrateKbps}k`];
}

function encoderArgs(view: View, port: number): string[] {
  return [
    ...canvasInputArgs(view),
    ...videoEncodeArgs(view), '-pix_fmt', 'yuv420p',
    '-f', 'rtp', '-payload_type', String(PAYLOAD_TYPE), '-ssrc', String(OUTPUT_SSRC),
    `rtp://127.0.0.1:${port}?pkt_size=1200&rtcpport=${port}`,
  ];
}

/**
 * One view of a room: a compositor and the FFmpeg encoder that turns its canvases into RTP for all the
 * view's subscribers.
 */
export class ViewPipeline {
  readonly sinks = new Set<PacketSink>();
  private closed = false;

  private constructor(
    readonly key: string,
    private readonly compositor: Compositor,
    private readonly socket: Socket,
    private readonly encoder: SupervisedFfmpeg,
  ) {
    const isKeyframeStart = compositor.view.codec === 'VP8' ? isVp8KeyframeStart : isH264KeyframeStart;
    socket.on('message', (bytes) => {
      const rtp = parseRtp(bytes);
      if (!rtp) return;
      const packet = { bytes, sequence: rtp.sequence, timestamp: rtp.timestamp, keyframeStart: isKeyframeStart(rtp.payload) };
      for (const sink of this.sinks) sink.deliver(this, packet);
    });
  }

  static async start(view: View, key: string, pictures: PictureSource, log: Logger): Promise<ViewPipeline> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const compositor = new Compositor(view, pictures);
    const encoder = new SupervisedFfmpeg({
      name: `encoder ${key}`,
      args: encoderArgs(view, socket.address().port),
      stdio: ['pipe', 'ignore', 'pipe'],
      log,
      onStart: (child) => (compositor.output = child.stdin as Writable),
    });
    return new ViewPipeline(key, compositor, socket, encoder);
  }

  get view(): View {
    return this.compositor.view;
  }

  get framesRendered(): number {
    return this.compositor.framesRendered;
  }

  get framesDropped(): number {
    return this.compositor.framesDropped;
  }

  get encoderPid(): number | undefined {
    return this.encoder.pid;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.compositor.stop();
    this.sinks.clear();
    await this.encoder.stop();
    this.socket.close();
  }
}
