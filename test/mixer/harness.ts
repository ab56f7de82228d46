import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Mixer } from '../../mixer/mixer.js';
import { ConferenceModel } from '../../src/conference/model.js';
import { MemoryStore } from '../../src/conference/memoryStore.js';
import type { LogLevel } from '../../src/log.js';
import { createLogger } from '../../src/log.js';
import type { Member } from '../../src/domain.js';
import { loadProfiles } from '../../src/profiles.js';
import type { BrowserCommands, BrowserOptions } from './browsers.js';
import { ForkedCommands } from './fleetRpc.js';
import type { PALETTE } from './signals.js';

export const CANVAS = { width: 640, height: 360 };
export const FPS = 15;

/** Profiles for tests: small canvases, one per layout (also named after it), open rooms (no invitations needed). */
export function testProfilesFile(codec: 'VP8' | 'H264' = 'VP8'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cometmcu-mixer-')), 'profiles.ini');
  const section = (layout: string) =>
    `[${layout}]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${FPS}\ncodec = ${codec}\nbitrate = 500\nlayout = ${layout}\nmax_members = 16\nopen = true\n`;
  writeFileSync(file, ['grid', 'personal', 'speaker'].map(section).join('\n'));
  return file;
}

export type MixerWorld = ReturnType<typeof newMixerWorld>;
/** What members join through: the model admits, the mixer answers. */
export type Conferencing = Pick<MixerWorld, 'model' | 'mixer'>;

/**
 * The server side: a model and a mixer on loopback, as startServer builds them. A leg silent for
 * `silenceTimeoutMs` fails, as with [media] media_timeout.
 */
export function newMixerWorld(profilesFile = testProfilesFile(), silenceTimeoutMs = 20_000) {
  const log = createLogger((process.env.TEST_LOG_LEVEL as LogLevel | undefined) ?? 'silent');
  const model = new ConferenceModel(new MemoryStore(), loadProfiles(profilesFile), { serverName: 'localhost', serverPort: 0, pipesalt: 'salt' });
  const mixer = new Mixer(model, { announcedAddresses: ['127.0.0.1'], announcedOnly: true, portRange: undefined, iceServers: [], silenceTimeoutMs, connectTimeoutMs: 10_000 }, log);
  return { model, mixer, log };
}

export interface JoinOptions {
  userId: number;
  colour: keyof typeof PALETTE;
  tone: number;
  volume?: number;
  room?: string;
  profile?: string;
  source?: BrowserOptions['source'];
  decode?: boolean;
  video?: boolean;
}

/**
 * Admission by the model (as SIP does) and the mixer's answer to a member's offer; a failed leg leaves, as
 * with SIP.
 */
export async function admit(world: Conferencing, options: Pick<JoinOptions, 'userId' | 'room' | 'profile'>, offer: string): Promise<{ member: Member; answer: string }> {
  const room = options.room ?? 'r';
  const member = await world.model.join({ devId: 0, room, userId: options.userId, profile: options.profile ?? 'grid' });
  const leaveOnFailure = (): void => void world.model.leave(0, room, options.userId, 'media-failed');
  return { member, answer: await world.mixer.join(member, offer, leaveOnFailure) };
}

/** Test browsers in a child process of their own (browsers.ts), driven from the test. */
export class BrowserFleet extends ForkedCommands<BrowserCommands> {
  /** `niceness`: see ForkedCommands. */
  constructor(
    niceness = 0,
    private readonly canvas = CANVAS,
    private readonly fps = FPS,
  ) {
    super(fileURLToPath(new URL('./browsers.ts', import.meta.url)), niceness);
  }

  /** The browser's own preparation (its offer), done before anything is measured on the server. */
  offer(options: JoinOptions): Promise<string> {
    return this.call('offer', {
      userId: options.userId,
      colour: options.colour,
      tone: options.tone,
      volume: options.volume ?? 0.5,
      canvas: this.canvas,
      fps: this.fps,
      source: options.source ?? 'lavfi',
      decode: options.decode ?? true,
      video: options.video ?? true,
    });
  }

  /** Admission, the mixer's answer, then media; a failed leg leaves, as with SIP. */
  async connect(world: Conferencing, options: JoinOptions, offer: string): Promise<Member> {
    const { member, answer } = await admit(world, options, offer);
    await this.call('answer', options.userId, answer);
    return member;
  }

  async join(world: Conferencing, options: JoinOptions): Promise<Member> {
    return this.connect(world, options, await this.offer(options));
  }
}

/**
 * The broadcast encoder of the mixer's (one) room: its FFmpeg that encodes H.264 from the canvas and the
 * mix (pipe:3). undefined while it is being restarted.
 */
export function broadcastEncoderPid(mixer: Mixer): number | undefined {
  return [...mixer.ffmpegPids().values()][0]?.find((pid) => {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes('libx264') && args.includes('pipe:3');
  });
}

/** Polls until `check` passes or the time is up, then lets its last failure through. */
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

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
