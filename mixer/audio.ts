import opus from '@discordjs/opus';
import type { MediaStreamTrack } from 'werift';
import type { UserId } from '../src/domain.js';
import { fixedRate } from './clock.js';
import { mixFrames, mixKey } from './mixMinus.js';
import { buildRtp } from './rtp/packet.js';
import { levelDb, SpeakerTracker, TalkDetector } from './speech.js';
import type { SpeakerState } from './views.js';

// A CommonJS module: its classes come off the default export under Node's ESM loader.
const { OpusEncoder } = opus;
type OpusEncoder = InstanceType<typeof OpusEncoder>;

const SAMPLE_RATE = 48_000;
const FRAME_MS = 20;
const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;
/** Frames held per member: enough to ride out network jitter, few enough to add little delay. */
const MAX_QUEUED_FRAMES = 3;
/** A mix not used for this many ticks has its encoder dropped. */
const IDLE_MIX_TICKS = 250;

interface AudioMember {
  /** Decodes this member's Opus (libopus keeps per-stream state). */
  decoder: OpusEncoder;
  queue: Int16Array[];
  talk: TalkDetector;
  /** false: muted, nobody hears this member. */
  audible: boolean;
  deaf: boolean;
  /** Where this member's mix goes, with its own RTP numbering so switching mixes never breaks the stream. */
  output: MediaStreamTrack | undefined;
  sequence: number;
  timestamp: number;
}

export interface RoomAudioEvents {
  onTalking(userId: UserId, talking: boolean): void;
  onSpeaker(state: SpeakerState): void;
}

/**
 * A room's audio: every member's Opus decoded in process, a 20 ms mix tick, mix-minus per listener
 * (everyone heard but themselves; listeners who hear the same thing share one mix and one encoder),
 * talk detection and the active speaker.
 */
export class RoomAudio {
  private readonly members = new Map<UserId, AudioMember>();
  private readonly encoders = new Map<string, { encoder: OpusEncoder; idleTicks: number }>();
  private readonly speakers = new SpeakerTracker();
  private readonly stop: () => void;
  /** Receives the full mix (everyone heard) every tick, for a broadcast. */
  broadcastTap: ((samples: Int16Array) => void) | undefined;

  constructor(private readonly events: RoomAudioEvents) {
    this.stop = fixedRate(FRAME_MS, () => this.tick(), { catchUp: true });
  }

  get speakerState(): SpeakerState {
    return this.speakers.current;
  }

  /** Distinct mixes being encoded now. */
  get encoderCount(): number {
    return this.encoders.size;
  }

  add(userId: UserId, output: MediaStreamTrack | undefined, controls: { audible: boolean; deaf: boolean }): void {
    this.members.set(userId, {
      decoder: new OpusEncoder(SAMPLE_RATE, 1),
      queue: [],
      talk: new TalkDetector(),
      ...controls,
      output,
      sequence: Math.floor(Math.random() * 0xffff),
      timestamp: Math.floor(Math.random() * 0xffff_ffff),
    });
  }

  remove(userId: UserId): void {
    this.members.delete(userId);
    this.speakers.forget(userId);
  }

  setControls(userId: UserId, controls: { audible: boolean; deaf: boolean }): void {
    const member = this.members.get(userId);
    if (member) Object.assign(member, controls);
  }

  /** One received Opus payload of a member. */
  receive(userId: UserId, payload: Buffer): void {
    const member = this.members.get(userId);
    if (!member || payload.length === 0) return;
    let pcm: Buffer;
    try {
      pcm = member.decoder.decode(payload);
    } catch {
      return; // a corrupt packet costs one frame, not the member
    }
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
    member.queue.push(samples.length === FRAME_SAMPLES ? samples : fit(samples));
    if (member.queue.length > MAX_QUEUED_FRAMES) member.queue.shift();
  }

  close(): void {
    this.stop();
    this.members.clear();
    this.encoders.clear();
  }

  private tick(): void {
    const frames = new Map<UserId, Int16Array>();
    const levels = new Map<UserId, { db: number; talking: boolean }>();
    for (const [userId, member] of this.members) {
      const frame = member.queue.shift();
      const db = frame ? levelDb(frame) : -100;
      if (member.talk.feed(member.audible ? db : -100, FRAME_MS)) this.events.onTalking(userId, member.talk.talking);
      if (!member.audible || !frame) continue;
      levels.set(userId, { db, talking: member.talk.talking });
      frames.set(userId, frame);
    }
    if (this.speakers.feed(levels, FRAME_MS)) this.events.onSpeaker(this.speakers.current);

    const heard = new Set(frames.keys());
    const listeners = [...this.members].filter(([, m]) => m.output).map(([userId, member]) => ({ member, key: mixKey({ userId, deaf: member.deaf }, heard) }));
    const keys = new Set(listeners.map((listener) => listener.key));
    const mixes = mixFrames(frames, this.broadcastTap ? new Set([...keys, 'all']) : keys, FRAME_SAMPLES);
    this.broadcastTap?.(mixes.get('all')!);
    const payloads = new Map<string, Buffer>();
    for (const key of keys) {
      const mix = mixes.get(key)!;
      payloads.set(key, this.encoderFor(key).encode(Buffer.from(mix.buffer, mix.byteOffset, mix.byteLength)));
    }
    for (const { member, key } of listeners) {
      const payload = payloads.get(key)!;
      member.output!.writeRtp(buildRtp({ marker: false, payloadType: 111, sequence: member.sequence, timestamp: member.timestamp, ssrc: 1 }, payload));
      member.sequence = (member.sequence + 1) & 0xffff;
      member.timestamp = (member.timestamp + FRAME_SAMPLES) >>> 0;
    }
    for (const [key, entry] of this.encoders) {
      entry.idleTicks = keys.has(key) ? 0 : entry.idleTicks + 1;
      if (entry.idleTicks > IDLE_MIX_TICKS) this.encoders.delete(key);
    }
  }

  /** Each mix keeps its own encoder, since Opus encoders carry state from frame to frame. */
  private encoderFor(key: string): OpusEncoder {
    let entry = this.encoders.get(key);
    if (!entry) {
      entry = { encoder: new OpusEncoder(SAMPLE_RATE, 1), idleTicks: 0 };
      this.encoders.set(key, entry);
    }
    return entry.encoder;
  }
}

/** Pads or cuts a frame of another duration (a sender using 10 or 40 ms frames) to our 20 ms. */
function fit(samples: Int16Array): Int16Array {
  const out = new Int16Array(FRAME_SAMPLES);
  out.set(samples.subarray(0, FRAME_SAMPLES));
  return out;
}
