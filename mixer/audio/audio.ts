import opus from '@discordjs/opus';
import { RtpHeader, RtpPacket, type MediaStreamTrack } from 'werift';
import type { SpeakerState, UserId } from '../../src/domain.js';
import { fixedRate } from '../clock.js';
import { type Listener, type MixKey, MixMinus, mixKey } from './mixMinus.js';
import { levelDb, SpeakerTracker, TalkDetector, type SpeakerLevel } from './speech.js';

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

/** A member's decoded frames waiting for the mix tick: a few preallocated frames, reused in turn. */
class FrameQueue {
  private readonly frames: Int16Array[] = [];
  /** The same memory as `frames`, as bytes, for copying the decoder's output in. */
  private readonly bytes: Buffer[] = [];
  private head = 0;
  private length = 0;

  constructor(capacity: number) {
    for (let i = 0; i < capacity; i++) {
      const frame = new Int16Array(FRAME_SAMPLES);
      this.frames.push(frame);
      this.bytes.push(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    }
  }

  /** Copies in one decoded frame, padded or cut to 20 ms (a sender may use 10 or 40 ms); full: drops the oldest. */
  push(pcm: Buffer): void {
    const capacity = this.frames.length;
    if (this.length === capacity) {
      this.head = (this.head + 1) % capacity;
      this.length--;
    }
    const slot = this.bytes[(this.head + this.length) % capacity]!;
    const copied = pcm.copy(slot, 0, 0, Math.min(pcm.length, slot.length));
    slot.fill(0, copied);
    this.length++;
  }

  /** The oldest frame, valid until the next push; undefined when none is waiting. */
  shift(): Int16Array | undefined {
    if (this.length === 0) return undefined;
    const frame = this.frames[this.head]!;
    this.head = (this.head + 1) % this.frames.length;
    this.length--;
    return frame;
  }
}

interface AudioMember extends Listener {
  /** Decodes this member's Opus (libopus keeps per-stream state). */
  decoder: OpusEncoder;
  queue: FrameQueue;
  talk: TalkDetector;
  /** false: muted, nobody hears this member. */
  audible: boolean;
  /** What others hear of this member in the current tick (when `heard`). */
  frame: Int16Array | undefined;
  /** This tick's level, as the speaker tracker reads it (one object per member, updated in place). */
  level: SpeakerLevel;
  /** Where this member's mix goes, with its own RTP numbering so switching mixes never breaks the stream. */
  output: MediaStreamTrack | undefined;
  sequence: number;
  timestamp: number;
}

/** One distinct mix: its samples and its encoder (Opus carries state from frame to frame), kept while used. */
interface Mix {
  key: MixKey;
  encoder: OpusEncoder;
  samples: Int16Array;
  /** The same memory as `samples`, as the encoder takes it. */
  pcm: Buffer;
  /** The tick's encoded frame, shared by every listener of this mix; werift keeps it for retransmission, so it is never written again. */
  payload: Buffer;
  /** The last tick that used this mix. */
  tick: number;
}

export interface RoomAudioEvents {
  onTalking(userId: UserId, talking: boolean): void;
  onSpeaker(state: SpeakerState): void;
}

/**
 * A room's audio: every member's Opus decoded in process, a 20 ms mix tick, mix-minus per listener
 * (everyone heard but themselves; listeners who hear the same thing share one mix, one encoder and one
 * encoded payload), talk detection and the active speaker. The tick works in memory kept from tick to tick:
 * what it allocates is the Opus binding's output (a new Buffer per decode and per encode) and one werift
 * RtpPacket and RtpHeader per listener, plus a copy of the full mix for a broadcast.
 */
export class RoomAudio {
  private readonly members = new Map<UserId, AudioMember>();
  private readonly mixes = new Map<MixKey, Mix>();
  private readonly mixMinus = new MixMinus(FRAME_SAMPLES);
  /** The levels of the audible members in the last tick (-100 dB without a frame), for the speaker tracker. */
  private readonly levels = new Map<UserId, { db: number; talking: boolean }>();
  private readonly speakers = new SpeakerTracker();
  private ticks = 0;
  private readonly stop: () => void;
  /** Receives the full mix (everyone heard) every tick, for a broadcast: a fresh array, since it is written to a stream that may hold on to it. */
  broadcastTap: ((samples: Int16Array) => void) | undefined;

  constructor(private readonly events: RoomAudioEvents) {
    this.stop = fixedRate(FRAME_MS, () => this.tick(), { catchUp: true });
  }

  get speakerState(): SpeakerState {
    return this.speakers.current;
  }

  /** Distinct mixes being encoded now. */
  get encoderCount(): number {
    return this.mixes.size;
  }

  add(userId: UserId, output: MediaStreamTrack | undefined, controls: { audible: boolean; deaf: boolean }): void {
    this.members.set(userId, {
      userId,
      decoder: new OpusEncoder(SAMPLE_RATE, 1),
      queue: new FrameQueue(MAX_QUEUED_FRAMES),
      talk: new TalkDetector(),
      ...controls,
      heard: false,
      frame: undefined,
      level: { db: -100, talking: false, missing: true },
      output,
      sequence: Math.floor(Math.random() * 0xffff),
      timestamp: Math.floor(Math.random() * 0xffff_ffff),
    });
  }

  remove(userId: UserId): void {
    this.members.delete(userId);
    this.levels.delete(userId);
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
    member.queue.push(pcm);
  }

  close(): void {
    this.stop();
    this.members.clear();
    this.mixes.clear();
  }

  private tick(): void {
    this.ticks++;
    this.mixMinus.reset();
    // forEach with callbacks made once: iterators would allocate every tick.
    this.members.forEach(this.takeFrame);
    if (this.speakers.feed(this.levels, FRAME_MS)) this.events.onSpeaker(this.speakers.current);
    if (this.broadcastTap) {
      const all = new Int16Array(FRAME_SAMPLES);
      this.mixMinus.mixInto(all);
      this.broadcastTap(all);
    }
    this.members.forEach(this.sendMix);
    this.mixes.forEach(this.dropIfIdle);
  }

  /** A member's next frame, if any: its talk state, its level, and into the mix if heard. */
  private readonly takeFrame = (member: AudioMember): void => {
    const frame = member.queue.shift();
    const db = frame ? levelDb(frame) : -100;
    if (member.talk.feed(member.audible ? db : -100, FRAME_MS)) this.events.onTalking(member.userId, member.talk.talking);
    member.heard = member.audible && frame !== undefined;
    member.frame = member.heard ? frame : undefined;
    // Set and delete rather than clear and refill: a Map allocates a new table when cleared or grown.
    if (!member.audible) {
      this.levels.delete(member.userId);
      return;
    }
    // A frame that comes late (jitter) changes neither the member's talking (the detector's release) nor
    // their level: the speaker tracker must not hand the floor to someone else for a missing frame.
    member.level.db = db;
    member.level.talking = member.talk.talking;
    member.level.missing = frame === undefined;
    this.levels.set(member.userId, member.level);
    if (member.frame) this.mixMinus.add(member.frame);
  };

  /** Sends a listener this tick's mix for it. */
  private readonly sendMix = (member: AudioMember): void => {
    if (!member.output) return;
    // A header of its own (werift rewrites it with this listener's SSRC and payload type, and keeps it
    // for retransmission) around the payload every listener of the mix shares: no copy, no parse.
    const header = new RtpHeader({ sequenceNumber: member.sequence, timestamp: member.timestamp, marker: false });
    member.output.writeRtp(new RtpPacket(header, this.encodedMix(mixKey(member))));
    member.sequence = (member.sequence + 1) & 0xffff;
    member.timestamp = (member.timestamp + FRAME_SAMPLES) >>> 0;
  };

  /** A mix nobody has heard for a while gives up its encoder and memory. */
  private readonly dropIfIdle = (mix: Mix): void => {
    if (this.ticks - mix.tick > IDLE_MIX_TICKS) this.mixes.delete(mix.key);
  };

  /** This tick's encoded mix `key`: mixed and encoded for its first listener, shared by the others. */
  private encodedMix(key: MixKey): Buffer {
    let mix = this.mixes.get(key);
    if (!mix) {
      const samples = new Int16Array(FRAME_SAMPLES); // silence stays this
      const pcm = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
      mix = { key, encoder: new OpusEncoder(SAMPLE_RATE, 1), samples, pcm, payload: Buffer.alloc(0), tick: 0 }; // encoded below
      this.mixes.set(key, mix);
    }
    if (mix.tick !== this.ticks) {
      if (key !== 'silence') this.mixMinus.mixInto(mix.samples, key === 'all' ? undefined : this.members.get(key)!.frame);
      mix.payload = mix.encoder.encode(mix.pcm);
      mix.tick = this.ticks;
    }
    return mix.payload;
  }
}
