import { createSocket, type Socket } from 'node:dgram';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { UserId, View } from '../src/domain.js';
import { SupervisedFfmpeg } from './ffmpeg.js';
import { BLACK, drawPicture, drawPlaceholder, fillRect, pictureBytes, type Picture } from './frames.js';
import { tileRects } from './layout.js';
import { fixedRate } from './clock.js';

/** Where a pipeline gets each member's latest picture; undefined draws the placeholder. */
export type PictureSource = (userId: UserId) => Picture | undefined;

/** Receives every RTP packet a pipeline's encoder produces. */
export interface PacketSink {
  deliver(pipeline: ViewPipeline, packet: Buffer): void;
}

const PAYLOAD_TYPE = 96;
const OUTPUT_SSRC = 0x434d4355; // "CMCU"; werift puts each subscriber's own SSRC on the wire anyway

function encoderArgs(view: View, port: number): string[] {
  const { width, height } = view.canvas;
  const gop = String(view.fps * 2);
  const codec =
    view.codec === 'VP8'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '-16', '-lag-in-frames', '0', '-error-resilient', '1']
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1', '-bf', '0', '-x264-params', 'repeat-headers=1'];
  return [
    '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${width}x${height}`, '-r', String(view.fps), '-i', 'pipe:0',
    ...codec, '-threads', '1', '-g', gop, '-keyint_min', gop, '-b:v', `${view.videoBitrateKbps}k`, '-pix_fmt', 'yuv420p',
    '-f', 'rtp', '-payload_type', String(PAYLOAD_TYPE), '-ssrc', String(OUTPUT_SSRC),
    `rtp://127.0.0.1:${port}?pkt_size=1200&rtcpport=${port}`,
  ];
}

/**
 * One view of a room: a compositor paced at the canvas rate that draws every visible member's latest
 * picture into a canvas, and the FFmpeg encoder that turns canvases into RTP for all its subscribers.
 * A member who stops sending keeps their last picture; nothing here waits for any member.
 */
export class ViewPipeline {
  readonly sinks = new Set<PacketSink>();
  framesRendered = 0;
  framesDropped = 0;
  private readonly canvases: Buffer[];
  private canvasIndex = 0;
  private readonly stopTicks: () => void;
  private stdin: Writable | undefined;
  private closed = false;

  private constructor(
    readonly view: View,
    readonly key: string,
    private readonly socket: Socket,
    private readonly encoder: SupervisedFfmpeg,
    private readonly pictures: PictureSource,
  ) {
    // Three canvases rotate: a write to FFmpeg's stdin keeps a reference until the pipe has taken it.
    this.canvases = Array.from({ length: 3 }, () => Buffer.alloc(pictureBytes(view.canvas)));
    socket.on('message', (packet) => {
      for (const sink of this.sinks) sink.deliver(this, packet);
    });
    this.stopTicks = fixedRate(1000 / view.fps, () => this.render());
  }

  static async start(view: View, key: string, pictures: PictureSource, log: Logger): Promise<ViewPipeline> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port;
    let pipeline: ViewPipeline | undefined;
    const encoder = new SupervisedFfmpeg({
      name: `encoder ${key}`,
      args: encoderArgs(view, port),
      stdio: ['pipe', 'ignore', 'pipe'],
      log,
      onStart: (child) => {
        if (pipeline) pipeline.stdin = child.stdin as Writable;
      },
    });
    pipeline = new ViewPipeline(view, key, socket, encoder, pictures);
    pipeline.stdin = encoder.process?.stdin as Writable;
    return pipeline;
  }

  get encoderPid(): number | undefined {
    return this.encoder.pid;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTicks();
    this.sinks.clear();
    await this.encoder.stop();
    this.socket.close();
  }

  private render(): void {
    // An encoder that falls behind loses frames here instead of building up latency.
    if (!this.stdin || this.stdin.writableLength >= 2 * this.canvases[0]!.length) {
      this.framesDropped++;
      return;
    }
    const canvas = this.canvases[this.canvasIndex]!;
    this.canvasIndex = (this.canvasIndex + 1) % this.canvases.length;
    const { canvas: size, layout, visible } = this.view;
    const rects = tileRects(layout, visible.length, size);
    fillRect(canvas, size, { x: 0, y: 0, ...size }, BLACK);
    visible.forEach((userId, index) => {
      const rect = rects[index]!;
      const picture = this.pictures(userId);
      if (picture) drawPicture(canvas, size, rect, picture);
      else drawPlaceholder(canvas, size, rect, userId);
    });
    this.stdin.write(canvas);
    this.framesRendered++;
  }
}
