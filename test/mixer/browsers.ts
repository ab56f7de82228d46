/**
 * The browser side of mixer tests and benchmarks, run in a child process of its own (`fork` with tsx) so
 * that the members' WebRTC, decoding and analysis never compete with the server for its event loop.
 * Each member is a werift peer sending a solid colour and a sine tone made by a real FFmpeg, and decoding
 * what it receives with a real FFmpeg. The parent drives it with `BrowserFleet` (harness.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import opus from '@discordjs/opus';
import { MediaStreamTrack, type RTCRtpTransceiver } from 'werift';
import type { Picture } from '../../mixer/views/frames.js';
import { tileRects } from '../../mixer/views/layouts/index.js';
import { rtpFieldsOf } from '../../mixer/peer.js';
import { H264Depacketizer, Vp8Depacketizer } from '../../mixer/rtp/depacketizer.js';
import { ReorderBuffer } from '../../mixer/rtp/reorder.js';
import { VideoDecoder } from '../../mixer/inbound/videoDecoder.js';
import { hostileVideoFrames } from './hostileVideo.js';
import type { CanvasSize, LayoutName, VideoCodec } from '../../src/domain.js';
import { createLogger } from '../../src/log.js';
import { memberPeerConnection } from './memberPeer.js';
import { nearestName, PALETTE, tonePower, yuvOf } from './signals.js';
import { FlippingSource, replaySource, type Source } from './sources.js';

// A CommonJS module: its classes come off the default export under Node's ESM loader.
const { OpusEncoder } = opus;
type OpusEncoder = InstanceType<typeof OpusEncoder>;

export interface BrowserOptions {
  userId: number;
  /** A name of the palette. */
  colour: string;
  tone: number;
  /** Tone amplitude, 0..1. */
  volume: number;
  canvas: CanvasSize;
  fps: number;
  /**
   * lavfi: FFmpeg makes the colour and the tone live (tests); replay: a pre-encoded clip and tone replayed
   * by Node (cheap, for many benchmark members); flip: a live colour that flips at known instants; flash:
   * the same, with the tone sounding only while the camera shows white (a beep with each flash).
   */
  source: 'lavfi' | 'replay' | 'flip' | 'flash';
  /** Decode the video received (only probes need to; it costs an FFmpeg each). */
  decode: boolean;
  /** false: an audio-only member. */
  video: boolean;
}

const CANDIDATES: [string, [number, number, number]][] = [
  ...Object.entries(PALETTE).map(([name, rgb]): [string, [number, number, number]] => [name, yuvOf(rgb)]),
  ['placeholder', [60, 128, 128]],
  ['black', [16, 128, 128]],
];

/** The name of the palette colour nearest to a pixel ('placeholder' and 'black' included). */
function colourAt(picture: Picture, x: number, y: number): string {
  const { width, height, data } = picture;
  const pixel = [
    data[y * width + x]!,
    data[width * height + (y >> 1) * (width >> 1) + (x >> 1)]!,
    data[width * height + (width * height) / 4 + (y >> 1) * (width >> 1) + (x >> 1)]!,
  ];
  return nearestName(pixel, CANDIDATES);
}

const log = createLogger('silent');

class Browser {
  latest: Picture | undefined;
  /** When a watched tile changed colour (watchTile), for latency. */
  readonly tileChanges: { at: number; colour: string }[] = [];
  private watched: { layout: LayoutName; count: number; index: number } | undefined;
  private replay: Source | undefined;
  flipping: FlippingSource | undefined;
  /** The codec the server's video arrives in. */
  receivedCodec: VideoCodec | undefined;
  /** Arrival times (Date.now()) of decoded pictures, for frame rates and gaps. */
  readonly pictureTimes: number[] = [];
  private readonly audio: Int16Array[] = [];
  private readonly pc = memberPeerConnection();
  private videoTransceiver: RTCRtpTransceiver | undefined;
  private readonly videoTrack = new MediaStreamTrack({ kind: 'video' });
  private readonly audioTrack = new MediaStreamTrack({ kind: 'audio' });
  private readonly opus = new OpusEncoder(48_000, 1);
  private source: ChildProcess | undefined;
  private sockets: Socket[] = [];
  private decoder: VideoDecoder | undefined;

  constructor(readonly options: BrowserOptions) {}

  /** The peer, its receivers, and an offer with all candidates (non-trickle, as the server wants). */
  async offer(): Promise<string> {
    this.pc.addTransceiver(this.audioTrack, { direction: 'sendrecv' });
    const video = this.options.video ? this.pc.addTransceiver(this.videoTrack, { direction: 'sendrecv' }) : undefined;
    this.videoTransceiver = video;
    this.pc.onTrack.subscribe((track) => {
      if (track.kind === 'audio') {
        if (!this.options.decode) return;
        track.onReceiveRtp.subscribe((rtp) => {
          const pcm = this.opus.decode(rtp.payload);
          this.audio.push(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2));
          if (this.audio.length > 150) this.audio.shift();
        });
        return;
      }
      if (!this.options.decode || !video) return;
      // The server sends its profile's codec: find which from the first packet's payload type.
      let reorder: ReorderBuffer | undefined;
      track.onReceiveRtp.subscribe((rtp) => {
        if (!reorder) {
          const mime = video.codecs.find((c) => c.payloadType === rtp.header.payloadType)?.mimeType.toLowerCase();
          reorder = this.startDecoding(mime === 'video/h264' ? 'H264' : 'VP8', () => void video.receiver.sendRtcpPLI(track.ssrc ?? 0));
        }
        reorder.push(rtpFieldsOf(rtp));
      });
    });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await new Promise<void>((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      this.pc.iceGatheringStateChange.subscribe((state) => state === 'complete' && resolve());
    });
    return this.pc.localDescription!.sdp;
  }

  private startDecoding(codec: VideoCodec, askKeyframe: () => void): ReorderBuffer {
    this.receivedCodec = codec;
    const depacketizer = codec === 'VP8' ? new Vp8Depacketizer() : new H264Depacketizer();
    const canvas = this.options.canvas;
    const decoder = (this.decoder = new VideoDecoder({
      codec,
      log,
      onPicture: () => {
        const picture = decoder.picture(canvas);
        if (!picture) return;
        this.latest = { ...picture, data: Buffer.from(picture.data) };
        this.pictureTimes.push(Date.now());
        if (this.pictureTimes.length > 2000) this.pictureTimes.shift();
        this.noteWatchedTile();
      },
      onNeedKeyframe: () => undefined,
    }));
    decoder.setSizes([canvas]);
    return new ReorderBuffer(
      (packet) => {
        const frame = depacketizer.push(packet);
        if (frame) this.decoder?.write(frame);
        else if (depacketizer.needsKeyframe && packet.marker) askKeyframe();
      },
      () => {
        depacketizer.lost();
        askKeyframe();
      },
    );
  }

  async answer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    // Our camera sends VP8 whatever the answer put first (a werift sender labels packets with its codec).
    const vp8 = this.videoTransceiver?.codecs.find((c) => c.mimeType.toLowerCase() === 'video/vp8');
    if (this.videoTransceiver && vp8) this.videoTransceiver.sender.codec = vp8;
    await this.startSource();
  }

  /** Starts the member's camera and microphone, as options.source says. */
  async startSource(): Promise<void> {
    const { source, colour, fps, tone, volume, video } = this.options;
    const rgb = PALETTE[colour]!;
    if (source === 'replay' || (source !== 'lavfi' && video)) {
      const size = { width: 640, height: 360 };
      const flipping = source === 'replay' ? undefined : await FlippingSource.start(this.videoTrack, [[colour, rgb], ['white', PALETTE.white!]], size, fps);
      const audible = source === 'flash' ? () => flipping!.colour === 'white' : undefined;
      this.replay = replaySource(source === 'replay' && video ? this.videoTrack : undefined, this.audioTrack, { rgb, size, fps, tone, volume, audible });
      this.flipping = flipping;
      return;
    }
    const [videoPort, audioPort] = await Promise.all([this.forward(this.videoTrack), this.forward(this.audioTrack)]);
    const hex = rgb.map((c) => c.toString(16).padStart(2, '0')).join('');
    this.source = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-re', '-f', 'lavfi', '-i', `color=c=0x${hex}:s=320x180:r=${fps}`,
      '-re', '-f', 'lavfi', '-i', `sine=frequency=${this.options.tone}:sample_rate=48000`,
      '-map', '0:v', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '-16', '-threads', '1', '-lag-in-frames', '0',
      '-error-resilient', '1', '-g', String(fps), '-b:v', '150k', '-f', 'rtp', '-payload_type', '96', `rtp://127.0.0.1:${videoPort}?pkt_size=1200`,
      '-map', '1:a', '-af', `volume=${this.options.volume}`, '-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', '20',
      '-b:a', '48k', '-ac', '1', '-f', 'rtp', '-payload_type', '111', `rtp://127.0.0.1:${audioPort}?pkt_size=1200`,
      // A tether: a trickle of sound into a pipe to this process. If it dies, even by SIGKILL, the write fails
      // and FFmpeg stops, instead of sending into the void for hours (and skewing benchmarks).
      '-map', '1:a', '-c:a', 'pcm_u8', '-ar', '8000', '-f', 'u8', 'pipe:1',
    ], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.source.stdout!.resume();
  }

  stopSource(): void {
    this.source?.kill('SIGKILL');
    this.source = undefined;
    this.replay?.stop();
    this.flipping?.stop();
    this.replay = this.flipping = undefined;
    for (const socket of this.sockets.splice(0)) socket.close();
  }

  /**
   * A hostile camera: instead of its picture it sends `count` broken frames (random bytes, truncated and
   * bit-flipped frames), the first half as VP8 and the rest as H.264, then its camera comes back.
   */
  async sendHostileVideo(count: number): Promise<void> {
    const transceiver = this.videoTransceiver;
    if (!transceiver) return;
    this.stopSource();
    const codecs = { VP8: 'video/vp8', H264: 'video/h264' } as const;
    let sequence = 0;
    let sent = 0;
    for (const { codec, packets } of hostileVideoFrames(count)) {
      const parameters = transceiver.codecs.find((c) => c.mimeType.toLowerCase() === codecs[codec])!;
      if (transceiver.sender.codec !== parameters) transceiver.sender.codec = parameters;
      for (const packet of packets) {
        packet.writeUInt16BE(sequence++ & 0xffff, 2);
        this.videoTrack.writeRtp(packet);
      }
      // A camera's pace, more or less: a few hundred frames a second, without starving this process.
      if (++sent % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    transceiver.sender.codec = transceiver.codecs.find((c) => c.mimeType.toLowerCase() === codecs.VP8)!;
    await this.startSource();
  }

  /** A hostile camera: its packets go out labelled VP8 and H.264 in turn for `ms`, then VP8 again. */
  async flipCodecs(ms: number): Promise<void> {
    const transceiver = this.videoTransceiver;
    if (!transceiver) return;
    const [vp8, h264] = ['video/vp8', 'video/h264'].map((mime) => transceiver.codecs.find((codec) => codec.mimeType.toLowerCase() === mime));
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 5))) {
      transceiver.sender.codec = transceiver.sender.codec === vp8 ? h264! : vp8!;
    }
    transceiver.sender.codec = vp8!;
  }

  watchTile(layout: LayoutName, count: number, index: number): void {
    this.watched = { layout, count, index };
  }

  private noteWatchedTile(): void {
    if (!this.watched) return;
    const colour = this.tiles(this.watched.layout, this.watched.count)?.[this.watched.index];
    if (colour && colour !== this.tileChanges.at(-1)?.colour) this.tileChanges.push({ at: Date.now(), colour });
  }

  tiles(layout: LayoutName, count: number): string[] | null {
    const picture = this.latest;
    if (!picture) return null;
    // Sampled in the middle of each tile's top fifth, clear of a placeholder's digits.
    return tileRects(layout, count, picture).map((rect) => colourAt(picture, rect.x + Math.floor(rect.width / 2), rect.y + Math.floor(rect.height / 5)));
  }

  tonePowers(ms: number, frequencies: number[]): number[] {
    const frames = this.audio.slice(-Math.ceil(ms / 20));
    const samples = new Int16Array(frames.reduce((sum, f) => sum + f.length, 0));
    let offset = 0;
    for (const frame of frames) {
      samples.set(frame, offset);
      offset += frame.length;
    }
    return frequencies.map((frequency) => tonePower(samples, frequency));
  }

  async close(): Promise<void> {
    this.stopSource();
    await this.decoder?.close();
    await this.pc.close();
  }

  private async forward(track: MediaStreamTrack): Promise<number> {
    const socket = createSocket('udp4');
    socket.on('message', (packet) => track.writeRtp(packet));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.sockets.push(socket);
    return socket.address().port;
  }
}

/** The longest time without a decoded picture between two instants. */
function longestGap(times: number[], from: number, to: number): number {
  let last = from;
  let gap = 0;
  for (const at of times) {
    if (at < from || at > to) continue;
    gap = Math.max(gap, at - last);
    last = at;
  }
  return Math.max(gap, to - last);
}

const browsers = new Map<number, Browser>();
const get = (userId: number): Browser => {
  const browser = browsers.get(userId);
  if (!browser) throw new Error(`no browser ${userId}`);
  return browser;
};

/** The commands the parent sends; each returns JSON-able data. */
const commands = {
  offer: async (options: BrowserOptions) => {
    const browser = new Browser(options);
    browsers.set(options.userId, browser);
    return browser.offer();
  },
  answer: (userId: number, sdp: string) => get(userId).answer(sdp),
  stopSource: (userId: number) => get(userId).stopSource(),
  startSource: (userId: number) => get(userId).startSource(),
  tiles: (userId: number, layout: LayoutName, count: number) => get(userId).tiles(layout, count),
  tonePowers: (userId: number, ms: number, frequencies: number[]) => get(userId).tonePowers(ms, frequencies),
  /** Decoded pictures and the longest gap between two Date.now() instants. */
  frames: (userId: number, from: number, to: number) => {
    const times = get(userId).pictureTimes;
    return { count: times.filter((at) => at >= from && at <= to).length, longestGap: longestGap(times, from, to) };
  },
  receivedCodec: (userId: number) => get(userId).receivedCodec ?? null,
  watchTile: (userId: number, layout: LayoutName, count: number, index: number) => get(userId).watchTile(layout, count, index),
  flipCodecs: (userId: number, ms: number) => get(userId).flipCodecs(ms),
  sendHostileVideo: (userId: number, count: number) => get(userId).sendHostileVideo(count),
  /** For each flip of `flipper` in the window, ms until `probe`'s watched tile showed the new colour. */
  flipLatencies: (flipper: number, probe: number, from: number, to: number) => {
    const changes = get(probe).tileChanges;
    const latencies: number[] = [];
    for (const flip of get(flipper).flipping?.flips ?? []) {
      if (flip.at < from || flip.at > to) continue;
      const seen = changes.find((change) => change.at >= flip.at && change.colour === flip.colour);
      if (seen && seen.at - flip.at < 2000) latencies.push(seen.at - flip.at);
    }
    return latencies;
  },
  /** When `userId`'s flipping camera changed colour, and to what (Date.now()). */
  flips: (userId: number) => get(userId).flipping?.flips ?? [],
  /** Date.now() of the first picture decoded after `after`, or null. */
  firstPictureAfter: (userId: number, after: number) => get(userId).pictureTimes.find((at) => at > after) ?? null,
  close: async (userId: number) => {
    await browsers.get(userId)?.close();
    browsers.delete(userId);
  },
};

export type BrowserCommands = typeof commands;

process.on('message', (message: { id: number; command: keyof BrowserCommands; args: unknown[] }) => {
  const run = commands[message.command] as (...args: unknown[]) => unknown;
  Promise.resolve()
    .then(() => run(...message.args))
    .then(
      (result) => process.send!({ id: message.id, result: result ?? null }),
      (error: unknown) => process.send!({ id: message.id, error: (error as Error).message }),
    );
});
process.on('disconnect', () => {
  void Promise.all([...browsers.values()].map((browser) => browser.close())).finally(() => process.exit(0));
});
