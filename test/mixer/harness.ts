import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { OpusEncoder } from '@discordjs/opus';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI } from 'werift';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ConferenceModel } from '../../src/conference/model.js';
import { MemoryStore } from '../../src/conference/memoryStore.js';
import { createLogger } from '../../src/log.js';
import { loadProfiles } from '../../src/profiles.js';
import type { Member } from '../../src/domain.js';
import { Mixer } from '../../mixer/mixer.js';
import { VideoDecoder } from '../../mixer/decoder.js';
import type { Picture } from '../../mixer/frames.js';
import { Vp8Depacketizer } from '../../mixer/rtp/depacketizer.js';
import { ReorderBuffer } from '../../mixer/rtp/reorder.js';
import { tileRects } from '../../mixer/layout.js';
import type { LayoutName } from '../../src/domain.js';

/**
 * Test members for the mixer: each a werift peer (as a browser would be) sending a solid colour and a
 * sine tone made by a real FFmpeg, and decoding what it receives with a real FFmpeg, so tests can look
 * at pixels and listen for tones.
 */

export const CANVAS = { width: 640, height: 360 };
export const FPS = 15;

export function testProfilesFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cometmcu-mixer-'));
  const file = join(dir, 'profiles.ini');
  writeFileSync(
    file,
    ['grid', 'personal', 'speaker']
      .map((layout) => `[${layout}]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${FPS}\ncodec = VP8\nbitrate = 500\nlayout = ${layout}\nmax_members = 16\nopen = true\n`)
      .join('\n'),
  );
  return file;
}

export function newMixerWorld() {
  const log = createLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
  const model = new ConferenceModel(new MemoryStore(), loadProfiles(testProfilesFile()), { serverName: 'localhost', serverPort: 0, pipesalt: 'salt' });
  const mixer = new Mixer(model, { announcedAddresses: ['127.0.0.1'], announcedOnly: true, portRange: undefined }, log);
  return { model, mixer, log };
}

export interface Colour {
  name: string;
  rgb: [number, number, number];
}

export const COLOURS: Colour[] = [
  { name: 'red', rgb: [255, 0, 0] },
  { name: 'lime', rgb: [0, 255, 0] },
  { name: 'blue', rgb: [0, 0, 255] },
  { name: 'yellow', rgb: [255, 255, 0] },
  { name: 'magenta', rgb: [255, 0, 255] },
  { name: 'cyan', rgb: [0, 255, 255] },
];

/** BT.601 limited range, as FFmpeg converts RGB sources to yuv420p. */
function yuvOf([r, g, b]: [number, number, number]): [number, number, number] {
  return [16 + 0.257 * r + 0.504 * g + 0.098 * b, 128 - 0.148 * r - 0.291 * g + 0.439 * b, 128 + 0.439 * r - 0.368 * g - 0.071 * b];
}

const PLACEHOLDER_YUV: [number, number, number] = [60, 128, 128];
const BLACK_YUV: [number, number, number] = [16, 128, 128];

/** The name of the palette colour nearest to a pixel of a picture ('placeholder', 'black' included). */
export function colourAt(picture: Picture, x: number, y: number): string {
  const { width, height, data } = picture;
  const yValue = data[y * width + x]!;
  const u = data[width * height + (y >> 1) * (width >> 1) + (x >> 1)]!;
  const v = data[width * height + (width * height) / 4 + (y >> 1) * (width >> 1) + (x >> 1)]!;
  const candidates: [string, [number, number, number]][] = [
    ...COLOURS.map((c): [string, [number, number, number]] => [c.name, yuvOf(c.rgb)]),
    ['placeholder', PLACEHOLDER_YUV],
    ['black', BLACK_YUV],
  ];
  let best = candidates[0]!;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const [cy, cu, cv] = candidate[1];
    const distance = (cy - yValue) ** 2 + (cu - u) ** 2 + (cv - v) ** 2;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best[0];
}

/** The colour of each tile of a layout, sampled in the middle of its top fifth (clear of a placeholder's digits). */
export function tileColours(picture: Picture, layout: LayoutName, count: number): string[] {
  return tileRects(layout, count, { width: picture.width, height: picture.height }).map((rect) =>
    colourAt(picture, rect.x + Math.floor(rect.width / 2), rect.y + Math.floor(rect.height / 5)),
  );
}

/** Goertzel power of one frequency in PCM samples, normalised to the signal length. */
export function tonePower(samples: Int16Array, frequency: number, sampleRate = 48_000): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (const sample of samples) {
    const current = sample / 32768 + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  return (previous ** 2 + beforePrevious ** 2 - coefficient * previous * beforePrevious) / samples.length;
}

const clientConfig = () => ({
  iceServers: [],
  bundlePolicy: 'max-bundle' as const,
  iceUseIpv4: false,
  iceUseIpv6: false,
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceInterfaceAddresses: { udp4: '127.0.0.1' },
  codecs: {
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2, payloadType: 111 })],
    video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType: 96, rtcpFeedback: [useNACK(), usePLI()] })],
  },
});

export interface TestMemberOptions {
  userId: number;
  colour: Colour;
  tone: number;
  /** Tone amplitude, 0..1. */
  volume?: number;
  room?: string;
  profile?: string;
}

export class TestMember {
  member!: Member;
  readonly pictures: { at: number; picture: Picture }[] = [];
  latest: Picture | undefined;
  readonly audio: Int16Array[] = [];
  private pc = new RTCPeerConnection(clientConfig());
  private source: ChildProcess | undefined;
  private sockets: Socket[] = [];
  private decoder: VideoDecoder | undefined;
  private videoTrack = new MediaStreamTrack({ kind: 'video' });
  private audioTrack = new MediaStreamTrack({ kind: 'audio' });
  private readonly opus = new OpusEncoder(48_000, 1);

  constructor(readonly options: TestMemberOptions) {}

  get userId(): number {
    return this.options.userId;
  }

  /** Joins through the model (as SIP will) and the mixer, and starts sending. */
  async join(world: ReturnType<typeof newMixerWorld>): Promise<void> {
    const { model, mixer, log } = world;
    const room = this.options.room ?? 'r';
    this.member = await model.join({ devId: 0, room, userId: this.userId, profile: this.options.profile ?? 'grid' });
    this.pc.addTransceiver(this.audioTrack, { direction: 'sendrecv' });
    const video = this.pc.addTransceiver(this.videoTrack, { direction: 'sendrecv' });
    this.pc.onTrack.subscribe((track) => {
      if (track.kind === 'audio') {
        track.onReceiveRtp.subscribe((rtp) => {
          const pcm = this.opus.decode(rtp.payload);
          this.audio.push(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2));
          if (this.audio.length > 150) this.audio.shift();
        });
        return;
      }
      const depacketizer = new Vp8Depacketizer();
      this.decoder = new VideoDecoder({
        name: `test receiver ${this.userId}`,
        codec: 'VP8',
        size: CANVAS,
        log,
        onPicture: (picture) => {
          const copy = { ...picture, data: Buffer.from(picture.data) };
          this.latest = copy;
          this.pictures.push({ at: performance.now(), picture: copy });
          if (this.pictures.length > 300) this.pictures.shift();
        },
        onNeedKeyframe: () => undefined,
      });
      const askKeyframe = (): void => void video.receiver.sendRtcpPLI(track.ssrc ?? 0);
      const reorder = new ReorderBuffer(
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
      track.onReceiveRtp.subscribe((rtp) =>
        reorder.push({ marker: rtp.header.marker, payloadType: rtp.header.payloadType, sequence: rtp.header.sequenceNumber, timestamp: rtp.header.timestamp, ssrc: rtp.header.ssrc, payload: rtp.payload }),
      );
    });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await new Promise<void>((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      this.pc.iceGatheringStateChange.subscribe((state) => state === 'complete' && resolve());
    });
    const answer = await mixer.join(this.member, this.pc.localDescription!.sdp);
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await this.startSource();
  }

  /** FFmpeg makes the colour (VP8, keyframe every second) and the tone (Opus), as RTP into the peer's tracks. */
  async startSource(): Promise<void> {
    const [videoPort, audioPort] = await Promise.all([this.forward(this.videoTrack), this.forward(this.audioTrack)]);
    const [r, g, b] = this.options.colour.rgb;
    const hex = ((r << 16) | (g << 8) | b).toString(16).padStart(6, '0');
    this.source = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-re', '-f', 'lavfi', '-i', `color=c=0x${hex}:s=320x180:r=${FPS}`,
      '-re', '-f', 'lavfi', '-i', `sine=frequency=${this.options.tone}:sample_rate=48000`,
      '-map', '0:v', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '-16', '-threads', '1', '-lag-in-frames', '0', '-error-resilient', '1',
      '-g', String(FPS), '-b:v', '150k', '-f', 'rtp', '-payload_type', '96', `rtp://127.0.0.1:${videoPort}?pkt_size=1200`,
      '-map', '1:a', '-af', `volume=${this.options.volume ?? 0.5}`, '-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', '20',
      '-b:a', '48k', '-ac', '1', '-f', 'rtp', '-payload_type', '111', `rtp://127.0.0.1:${audioPort}?pkt_size=1200`,
    ], { stdio: 'ignore' });
  }

  stopSource(): void {
    this.source?.kill('SIGKILL');
    this.source = undefined;
  }

  /** The last `ms` of received audio. */
  recentAudio(ms: number): Int16Array {
    const frames = this.audio.slice(-Math.ceil(ms / 20));
    const out = new Int16Array(frames.reduce((sum, f) => sum + f.length, 0));
    let offset = 0;
    for (const frame of frames) {
      out.set(frame, offset);
      offset += frame.length;
    }
    return out;
  }

  /** Frames decoded between two instants. */
  picturesBetween(from: number, to: number): { at: number; picture: Picture }[] {
    return this.pictures.filter((p) => p.at >= from && p.at <= to);
  }

  async close(): Promise<void> {
    this.stopSource();
    for (const socket of this.sockets.splice(0)) socket.close();
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

/** Polls until `check` passes or the time is up, then asserts by calling it once more. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
