/**
 * Probe members of the mixer benchmark, run in a child process of their own (ProbeFleet, probeFleet.ts).
 * A probe is a member like the others (a werift peer replaying a camera clip and a tone), which watches what
 * it receives without decoding it: when each whole frame a decoder could use arrived (none after a loss
 * until the next keyframe), and how long the server takes to answer a keyframe request (PLI) with a
 * keyframe. Its tone is silent until it takes the floor, when it becomes the loudest member of the room.
 */
import { MediaStreamTrack, type RTCRtpTransceiver } from 'werift';
import { rtpFieldsOf } from '../../mixer/peer.js';
import { H264Depacketizer, Vp8Depacketizer, type Depacketizer } from '../../mixer/rtp/depacketizer.js';
import { ReorderBuffer } from '../../mixer/rtp/reorder.js';
import { serveCommands } from './fleetRpc.js';
import { memberPeerConnection } from './memberPeer.js';
import { PALETTE } from './signals.js';
import { replaySource, type Source } from './sources.js';

export interface ProbeOptions {
  userId: number;
  /** A name of the palette. */
  colour: string;
  tone: number;
  fps: number;
}

/** The camera clip's size, as every benchmark member sends. */
const CAMERA = { width: 640, height: 360 };
/** The tone while the probe has the floor: more than the speaker tracker's 3 dB above a member at 0.6. */
const FLOOR_VOLUME = 0.95;
/** A keyframe request not answered within this long is reported as this long. */
const KEYFRAME_TIMEOUT_MS = 3000;
/** A browser asks again for a keyframe after a loss at most this often. */
const LOSS_PLI_INTERVAL_MS = 500;
/** Arrivals kept: minutes of frames at 30 fps. */
const MAX_ARRIVALS = 10_000;

interface Arrival {
  /** Date.now(), comparable with the parent's and the other members' clocks. */
  at: number;
  keyframe: boolean;
}

class ProbeMember {
  /** Whole frames received that a decoder could use, in arrival order. */
  readonly arrivals: Arrival[] = [];
  private readonly pc = memberPeerConnection();
  private readonly videoTrack = new MediaStreamTrack({ kind: 'video' });
  private readonly audioTrack = new MediaStreamTrack({ kind: 'audio' });
  private video: RTCRtpTransceiver | undefined;
  private reorder: ReorderBuffer | undefined;
  /** The SSRC the server's video comes with, which a PLI names. */
  private mediaSsrc: number | undefined;
  private lossPliAt = -Infinity;
  private readonly keyframeWaiters = new Set<() => void>();
  private source: Source | undefined;
  private speaking = false;

  constructor(private readonly options: ProbeOptions) {}

  /** The peer and an offer with all candidates (non-trickle, as the server wants). */
  async offer(): Promise<string> {
    this.pc.addTransceiver(this.audioTrack, { direction: 'sendrecv' });
    const video = (this.video = this.pc.addTransceiver(this.videoTrack, { direction: 'sendrecv' }));
    this.pc.onTrack.subscribe((track) => {
      if (track.kind !== 'video') return;
      track.onReceiveRtp.subscribe((rtp) => {
        this.mediaSsrc = rtp.header.ssrc;
        if (!this.reorder) {
          const mime = video.codecs.find((c) => c.payloadType === rtp.header.payloadType)?.mimeType.toLowerCase();
          this.reorder = this.watch(mime === 'video/h264' ? new H264Depacketizer() : new Vp8Depacketizer());
        }
        this.reorder.push(rtpFieldsOf(rtp));
      });
    });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await new Promise<void>((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      this.pc.iceGatheringStateChange.subscribe((state) => state === 'complete' && resolve());
    });
    return this.pc.localDescription!.sdp;
  }

  async answer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    // Our camera sends VP8 whatever the answer put first (a werift sender labels packets with its codec).
    const vp8 = this.video?.codecs.find((c) => c.mimeType.toLowerCase() === 'video/vp8');
    if (this.video && vp8) this.video.sender.codec = vp8;
    const { colour, fps, tone } = this.options;
    this.source = replaySource(this.videoTrack, this.audioTrack, {
      rgb: PALETTE[colour]!,
      size: CAMERA,
      fps,
      tone,
      volume: FLOOR_VOLUME,
      audible: () => this.speaking,
    });
  }

  /** Takes the floor (its tone sounds, louder than anyone's) or gives it up (silence). */
  speak(on: boolean): void {
    this.speaking = on;
  }

  /**
   * Sends `count` keyframe requests, `spacingMs` apart, and returns for each the ms until a whole keyframe
   * had arrived (KEYFRAME_TIMEOUT_MS when none came).
   */
  async keyframeLatencies(count: number, spacingMs: number): Promise<number[]> {
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const sentAt = performance.now();
      const keyframe = this.nextKeyframe();
      this.sendPli();
      await keyframe;
      const latency = performance.now() - sentAt;
      latencies.push(latency);
      await sleep(Math.max(0, spacingMs - latency));
    }
    return latencies;
  }

  async close(): Promise<void> {
    this.source?.stop();
    this.reorder?.close();
    for (const wake of this.keyframeWaiters) wake();
    await this.pc.close();
  }

  /** Frames in order, reassembled; loss costs every frame up to the next keyframe, and a PLI, as in a browser. */
  private watch(depacketizer: Depacketizer): ReorderBuffer {
    const askAfterLoss = (): void => {
      if (performance.now() - this.lossPliAt < LOSS_PLI_INTERVAL_MS) return;
      this.lossPliAt = performance.now();
      this.sendPli();
    };
    return new ReorderBuffer(
      (packet) => {
        const frame = depacketizer.push(packet);
        if (frame) this.arrived(frame.keyframe);
        else if (depacketizer.needsKeyframe && packet.marker) askAfterLoss();
      },
      () => {
        depacketizer.lost();
        askAfterLoss();
      },
    );
  }

  private arrived(keyframe: boolean): void {
    this.arrivals.push({ at: Date.now(), keyframe });
    if (this.arrivals.length > MAX_ARRIVALS) this.arrivals.shift();
    if (!keyframe) return;
    for (const wake of this.keyframeWaiters) wake();
    this.keyframeWaiters.clear();
  }

  /** Resolves when the next whole keyframe has arrived, or after KEYFRAME_TIMEOUT_MS. */
  private nextKeyframe(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(wake, KEYFRAME_TIMEOUT_MS);
      const waiters = this.keyframeWaiters;
      function wake(): void {
        clearTimeout(timer);
        waiters.delete(wake);
        resolve();
      }
      waiters.add(wake);
    });
  }

  private sendPli(): void {
    if (this.video && this.mediaSsrc !== undefined) void this.video.receiver.sendRtcpPLI(this.mediaSsrc);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The longest time without a usable frame between two Date.now() instants (an instant with none counts). */
function longestGap(arrivals: readonly Arrival[], from: number, to: number): number {
  let last = from;
  let gap = 0;
  for (const { at } of arrivals) {
    if (at < from || at > to) continue;
    gap = Math.max(gap, at - last);
    last = at;
  }
  return Math.max(gap, to - last);
}

const probes = new Map<number, ProbeMember>();
const get = (userId: number): ProbeMember => {
  const probe = probes.get(userId);
  if (!probe) throw new Error(`no probe ${userId}`);
  return probe;
};

/** The commands the parent sends; each returns JSON-able data. */
const commands = {
  offer: (options: ProbeOptions) => {
    const probe = new ProbeMember(options);
    probes.set(options.userId, probe);
    return probe.offer();
  },
  answer: (userId: number, sdp: string) => get(userId).answer(sdp),
  speak: (userId: number, on: boolean) => get(userId).speak(on),
  keyframeLatencies: (userId: number, count: number, spacingMs: number) => get(userId).keyframeLatencies(count, spacingMs),
  /** Usable frames received between two Date.now() instants, and the longest gap without one. */
  frames: (userId: number, from: number, to: number) => {
    const arrivals = get(userId).arrivals;
    return { count: arrivals.filter(({ at }) => at >= from && at <= to).length, longestGap: longestGap(arrivals, from, to) };
  },
  close: async (userId: number) => {
    await probes.get(userId)?.close();
    probes.delete(userId);
  },
};

export type ProbeCommands = typeof commands;

serveCommands(commands, () => Promise.all([...probes.values()].map((probe) => probe.close())));
