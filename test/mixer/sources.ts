/**
 * Cheap media sources for benchmark members (browsers.ts): pre-encoded VP8 clips and Opus tones replayed
 * by Node, so that dozens of members cost almost nothing to run; and a "flipping" source whose colour
 * changes at known instants, for measuring latency.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import opus from '@discordjs/opus';
import type { MediaStreamTrack } from 'werift';
import { fixedRate } from '../../mixer/clock.js';
import { buildRtp } from '../helpers/rtp.js';
import type { CanvasSize } from '../../src/domain.js';
import { yuvOf } from './signals.js';

const { OpusEncoder } = opus;
const CLIP_DIR = join(tmpdir(), 'cometmcu-clips');
const MAX_PAYLOAD = 1100;

/** A camera-like VP8 clip of 2 s (a colour with noise, a keyframe every second), made once per colour, size and rate. */
export function clipFile(rgb: [number, number, number], size: CanvasSize, fps: number): string {
  mkdirSync(CLIP_DIR, { recursive: true });
  const hex = rgb.map((c) => c.toString(16).padStart(2, '0')).join('');
  const file = join(CLIP_DIR, `${hex}-${size.width}x${size.height}-${fps}.ivf`);
  if (!existsSync(file)) {
    execFileSync('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x${hex}:s=${size.width}x${size.height}:r=${fps},noise=alls=12:allf=t`,
      '-frames:v', String(2 * fps), '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '4', '-threads', '1',
      '-lag-in-frames', '0', '-error-resilient', '1', '-g', String(fps), '-b:v', '600k', '-f', 'ivf', file,
    ]);
  }
  return file;
}

function clipFrames(rgb: [number, number, number], size: CanvasSize, fps: number): Buffer[] {
  const data = readFileSync(clipFile(rgb, size, fps));
  const frames: Buffer[] = [];
  for (let offset = 32; offset + 12 <= data.length; ) {
    const length = data.readUInt32LE(offset);
    frames.push(data.subarray(offset + 12, offset + 12 + length));
    offset += 12 + length;
  }
  return frames;
}

/** RFC 7741 packets of one VP8 frame, with a 15-bit PictureID. */
class Vp8Packetizer {
  private pictureId = Math.floor(Math.random() * 0x7fff);
  private sequence = Math.floor(Math.random() * 0xffff);
  private readonly ssrc = Math.floor(Math.random() * 0xffff_ffff);

  packets(frame: Buffer, timestamp: number): Buffer[] {
    const packets: Buffer[] = [];
    for (let offset = 0; offset < frame.length; offset += MAX_PAYLOAD) {
      const chunk = frame.subarray(offset, offset + MAX_PAYLOAD);
      const descriptor = Buffer.from([0x80 | (offset === 0 ? 0x10 : 0), 0x80, 0x80 | (this.pictureId >> 8), this.pictureId & 0xff]);
      const last = offset + MAX_PAYLOAD >= frame.length;
      packets.push(buildRtp({ marker: last, payloadType: 96, sequence: this.sequence, timestamp, ssrc: this.ssrc }, Buffer.concat([descriptor, chunk])));
      this.sequence = (this.sequence + 1) & 0xffff;
    }
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    return packets;
  }
}

/** One second of a sine tone as an Ogg Opus file, for FFmpeg inputs. */
export function toneFile(frequency: number, volume: number): string {
  mkdirSync(CLIP_DIR, { recursive: true });
  const file = join(CLIP_DIR, `tone-${frequency}-${volume}.ogg`);
  if (!existsSync(file)) {
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000:duration=1`, '-af', `volume=${volume}`, '-c:a', 'libopus', '-b:a', '32k', '-ac', '1', file]);
  }
  return file;
}

/** One second of a sine tone as 50 Opus frames: whole-hertz tones loop without a click. */
function toneFrames(frequency: number, volume: number): Buffer[] {
  const encoder = new OpusEncoder(48_000, 1);
  return Array.from({ length: 50 }, (_, frame) => {
    const pcm = Buffer.alloc(960 * 2);
    for (let i = 0; i < 960; i++) {
      pcm.writeInt16LE(Math.round(volume * 32767 * Math.sin((2 * Math.PI * frequency * (frame * 960 + i)) / 48_000)), i * 2);
    }
    return encoder.encode(pcm);
  });
}

export interface Source {
  stop(): void;
}

/** Replays a clip and a tone into a peer's tracks, as a camera and microphone would send them. */
export function replaySource(
  video: MediaStreamTrack | undefined,
  audio: MediaStreamTrack,
  options: { rgb: [number, number, number]; size: CanvasSize; fps: number; tone: number; volume: number; audible?: () => boolean },
): Source {
  const stops: (() => void)[] = [];
  if (video) {
    const frames = clipFrames(options.rgb, options.size, options.fps);
    const packetizer = new Vp8Packetizer();
    let index = 0;
    let timestamp = Math.floor(Math.random() * 0xffff_ffff);
    stops.push(
      fixedRate(1000 / options.fps, () => {
        for (const packet of packetizer.packets(frames[index % frames.length]!, timestamp)) video.writeRtp(packet);
        index++;
        timestamp = (timestamp + 90_000 / options.fps) >>> 0;
      }),
    );
  }
  const tone = toneFrames(options.tone, options.volume);
  const silence = options.audible ? toneFrames(options.tone, 0) : tone;
  let frame = 0;
  let sequence = Math.floor(Math.random() * 0xffff);
  let timestamp = Math.floor(Math.random() * 0xffff_ffff);
  stops.push(
    fixedRate(20, () => {
      const frames = !options.audible || options.audible() ? tone : silence;
      audio.writeRtp(buildRtp({ marker: false, payloadType: 111, sequence, timestamp, ssrc: 2 }, frames[frame++ % frames.length]!));
      sequence = (sequence + 1) & 0xffff;
      timestamp = (timestamp + 960) >>> 0;
    }),
  );
  return { stop: () => stops.forEach((stop) => stop()) };
}

export interface Flip {
  at: number;
  colour: string;
}

/**
 * A camera whose colour flips between palette colours at random moments (1-2 s apart), encoded live by
 * FFmpeg from raw frames Node writes, so every flip has an exact time (Date.now()).
 */
export class FlippingSource implements Source {
  private constructor(
    readonly flips: Flip[],
    private readonly firstColour: string,
    private readonly socket: Socket,
    private readonly encoder: ChildProcess,
    private readonly stopTicks: () => void,
  ) {}

  static async start(video: MediaStreamTrack, colours: [string, [number, number, number]][], size: CanvasSize, fps: number): Promise<FlippingSource> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    socket.on('message', (packet) => video.writeRtp(packet));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const encoder = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${size.width}x${size.height}`, '-r', String(fps),
      '-i', 'pipe:0', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '-16', '-threads', '1', '-lag-in-frames', '0',
      '-error-resilient', '1', '-g', String(fps), '-b:v', '600k', '-f', 'rtp', '-payload_type', '96', `rtp://127.0.0.1:${socket.address().port}?pkt_size=1200`,
    ], { stdio: ['pipe', 'ignore', 'ignore'] });
    encoder.stdin!.on('error', () => undefined);
    const frames = colours.map(([name, rgb]) => [name, solidFrame(rgb, size)] as const);
    let current = 0;
    let nextFlip = Date.now() + 1000 + Math.random() * 1000;
    const flips: Flip[] = [];
    const stopTicks = fixedRate(1000 / fps, () => {
      if (Date.now() >= nextFlip) {
        current = (current + 1) % frames.length;
        nextFlip = Date.now() + 1000 + Math.random() * 1000;
        flips.push({ at: Date.now(), colour: frames[current]![0] });
      }
      encoder.stdin!.write(frames[current]![1]);
    });
    return new FlippingSource(flips, colours[0]![0], socket, encoder, stopTicks);
  }

  /** The colour shown now. */
  get colour(): string {
    return this.flips.at(-1)?.colour ?? this.firstColour;
  }

  stop(): void {
    this.stopTicks();
    this.encoder.kill('SIGKILL');
    this.socket.close();
  }
}

function solidFrame(rgb: [number, number, number], size: CanvasSize): Buffer {
  const [y, u, v] = yuvOf(rgb).map(Math.round) as [number, number, number];
  const frame = Buffer.alloc((size.width * size.height * 3) / 2);
  frame.fill(y, 0, size.width * size.height);
  frame.fill(u, size.width * size.height, (size.width * size.height * 5) / 4);
  frame.fill(v, (size.width * size.height * 5) / 4);
  return frame;
}
