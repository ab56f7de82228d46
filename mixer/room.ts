import type { Logger } from 'pino';
import type { CanvasSize, Member, Profile, UserId, VideoCodec, View } from '../src/domain.js';
import { RoomAudio } from './audio.js';
import { Broadcast, type BroadcastTargets, type OutputState } from './broadcast.js';
import type { LowLatencyHls } from './llHls.js';
import { VideoDecoder } from './decoder.js';
import type { Picture } from './frames.js';
import { tileRects } from './layout.js';
import { OutboundVideo } from './outbound.js';
import { answerOffer, type MediaNetwork, type MemberPeer } from './peer.js';
import { ViewPipeline } from './pipeline.js';
import { H264Depacketizer, Vp8Depacketizer } from './rtp/depacketizer.js';
import type { RtpFields } from './rtp/packet.js';
import { ReorderBuffer } from './rtp/reorder.js';
import { viewFor, viewKey } from './views.js';

/** A member whose picture is older than this is shown as their placeholder. */
const STALLED_MS = 3000;
/** Keyframe requests to one browser, at most one per this many ms. */
const KEYFRAME_REQUEST_INTERVAL_MS = 500;
/** Encoder restarts for a subscriber's keyframe request, at most one per view per this many ms. */
const ENCODER_RESTART_INTERVAL_MS = 1000;
const DEFAULT_TILE: CanvasSize = { width: 640, height: 360 };
const DECODER_RESIZE_DELAY_MS = 500;
const DECODER_RESIZE_SPACING_MS = 200;
/** A member's decoder changes codec at most once per this many ms: a browser flipping codecs must not spawn one per packet. */
const CODEC_CHANGE_INTERVAL_MS = 2000;

interface Incoming {
  codec: VideoCodec;
  startedAt: number;
  reorder: ReorderBuffer;
  decoder: VideoDecoder;
}

interface Participant {
  member: Member;
  peer: MemberPeer;
  outbound: OutboundVideo | undefined;
  incoming: Incoming | undefined;
  picture: Picture | undefined;
  pictureAt: number;
  keyframeRequestedAt: number;
}

export interface RoomEvents {
  onTalking(userId: UserId, talking: boolean): void;
}

export interface RoomStats {
  /** The state of each broadcast output (empty without a broadcast). */
  broadcast: OutputState[];
  members: number;
  /** Video encoders running: one per distinct view, plus any being replaced. */
  videoEncoders: number;
  /** Distinct audio mixes being encoded. */
  audioMixes: number;
  framesRendered: number;
  framesDropped: number;
}

/**
 * One conference's media: every member's WebRTC leg and decoder, one pipeline per distinct view, and
 * the audio mix. Changes (joins, leaves, controls, speaker) run one at a time, in order.
 */
export class Room {
  private readonly participants = new Map<UserId, Participant>();
  private readonly pipelines = new Map<string, ViewPipeline>();
  /** Pipelines replaced by a newer one for the same view, serving until their subscribers have switched. */
  private readonly retiring = new Set<ViewPipeline>();
  private readonly restartedAt = new Map<string, number>();
  private readonly audio: RoomAudio;
  private queue: Promise<unknown> = Promise.resolve();
  private resizeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /** The room's broadcast (RTMP, HLS, recording), started with the first member when the room has one. */
  private broadcast: Broadcast | undefined;
  /** The room's LL-HLS: it outlives a broadcast replaced by another that has one too. */
  private lowLatency: LowLatencyHls | undefined;

  constructor(
    private readonly profile: Profile,
    private readonly network: MediaNetwork,
    private readonly log: Logger,
    private readonly events: RoomEvents,
    private broadcastTargets: BroadcastTargets | null = null,
  ) {
    this.audio = new RoomAudio({
      onTalking: (userId, talking) => events.onTalking(userId, talking),
      onSpeaker: () => void this.serialize(() => this.refreshViews()),
    });
  }

  get size(): number {
    return this.participants.size;
  }

  stats(): RoomStats {
    const composed: { framesRendered: number; framesDropped: number }[] = [...this.pipelines.values(), ...this.retiring];
    if (this.broadcast?.hasVideo) composed.push(this.broadcast);
    return {
      members: this.participants.size,
      // The broadcast's encoder is one more view (when it has pictures).
      videoEncoders: composed.length,
      audioMixes: this.audio.encoderCount,
      framesRendered: composed.reduce((sum, p) => sum + p.framesRendered, 0),
      framesDropped: composed.reduce((sum, p) => sum + p.framesDropped, 0),
      broadcast: this.broadcast?.outputStates() ?? [],
    };
  }

  /** Process ids of this room's FFmpeg children (for CPU accounting and tests). */
  ffmpegPids(): { encoders: number[]; decoders: number[] } {
    const defined = (pids: (number | undefined)[]): number[] => pids.filter((pid): pid is number => pid !== undefined);
    return {
      encoders: defined([...[...this.pipelines.values(), ...this.retiring].map((p) => p.encoderPid), this.broadcast?.encoderPid, ...(this.broadcast?.outputPids() ?? [])]),
      decoders: defined([...this.participants.values()].map((p) => p.incoming?.decoder.pid)),
    };
  }

  /** `onFailed`: this leg failed (see PeerHandlers.onFailed); a leg replaced or removed here never calls it. */
  join(member: Member, offer: string, onFailed: () => void): Promise<string> {
    return this.serialize(async () => {
      await this.removeParticipant(member.userId); // a reconnecting member replaces their old leg
      const userId = member.userId;
      const peer = await answerOffer(offer, {
        preferredCodec: this.profile.codec,
        receive: !member.viewerOnly,
        network: this.network,
        handlers: {
          onVideo: (packet, codec) => this.receiveVideo(userId, packet, codec),
          onAudio: (payload) => this.audio.receive(userId, payload),
          onKeyframeRequest: () => void this.serialize(() => this.restartViewOf(userId)),
          onFailed: () => {
            this.log.warn({ userId }, 'media connection failed');
            onFailed();
          },
        },
      });
      const participant: Participant = { member, peer, outbound: undefined, incoming: undefined, picture: undefined, pictureAt: 0, keyframeRequestedAt: 0 };
      if (peer.videoOut && this.profile.media === 'video') {
        participant.outbound = new OutboundVideo(peer.videoOut, (from) => this.retireIfUnused(from));
      }
      this.participants.set(userId, participant);
      this.audio.add(userId, peer.audioOut, audioControls(member));
      this.startBroadcast();
      await this.refreshViews();
      return peer.answer;
    });
  }

  leave(userId: UserId): Promise<void> {
    return this.serialize(async () => {
      if (await this.removeParticipant(userId)) await this.refreshViews();
    });
  }

  /** New controls (mute, video mute, deaf, layout, watch list) of a member. */
  update(member: Member): Promise<void> {
    return this.serialize(async () => {
      const participant = this.participants.get(member.userId);
      if (!participant) return;
      participant.member = member;
      this.audio.setControls(member.userId, audioControls(member));
      await this.refreshViews();
    });
  }

  async close(): Promise<void> {
    await this.serialize(async () => {
      this.closed = true;
      clearTimeout(this.resizeTimer);
      this.audio.broadcastTap = undefined;
      await this.broadcast?.close();
      this.endLowLatencyHls();
      for (const userId of [...this.participants.keys()]) await this.removeParticipant(userId);
      await Promise.all([...this.pipelines.values(), ...this.retiring].map((pipeline) => pipeline.close()));
      this.pipelines.clear();
      this.retiring.clear();
      this.audio.close();
    });
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch((error: unknown) => this.log.error({ err: error }, 'room task failed'));
    return run;
  }

  private async removeParticipant(userId: UserId): Promise<boolean> {
    const participant = this.participants.get(userId);
    if (!participant) return false;
    this.participants.delete(userId);
    participant.outbound?.detach();
    participant.incoming?.reorder.close();
    this.audio.remove(userId);
    await Promise.all([participant.incoming?.decoder.close(), participant.peer.close()]);
    return true;
  }

  private receiveVideo(userId: UserId, packet: RtpFields, codec: VideoCodec): void {
    const participant = this.participants.get(userId);
    // A viewer's answer was sendonly; whatever it sends anyway is not decoded.
    if (!participant || participant.member.viewerOnly || this.profile.media !== 'video') return;
    let incoming = participant.incoming;
    if (incoming?.codec !== codec) {
      if (incoming && performance.now() - incoming.startedAt < CODEC_CHANGE_INTERVAL_MS) return;
      incoming?.reorder.close();
      void incoming?.decoder.close();
      incoming = participant.incoming = this.startIncoming(participant, codec);
    }
    incoming.reorder.push(packet);
  }

  private startIncoming(participant: Participant, codec: VideoCodec): Incoming {
    const userId = participant.member.userId;
    const depacketizer = codec === 'VP8' ? new Vp8Depacketizer() : new H264Depacketizer();
    const decoder = new VideoDecoder({
      name: `decoder ${this.profile.name}/${userId}`,
      codec,
      size: this.tileSizeOf(userId) ?? DEFAULT_TILE,
      log: this.log,
      onPicture: (picture) => {
        participant.picture = picture;
        participant.pictureAt = performance.now();
      },
      onNeedKeyframe: () => this.requestKeyframe(participant, true),
    });
    const reorder = new ReorderBuffer(
      (packet) => {
        const frame = depacketizer.push(packet);
        if (frame) decoder.write(frame);
        else if (depacketizer.needsKeyframe && packet.marker) this.requestKeyframe(participant, false);
      },
      () => {
        depacketizer.lost();
        this.requestKeyframe(participant, false);
      },
    );
    return { codec, startedAt: performance.now(), reorder, decoder };
  }

  /** Asks the member's browser for a keyframe, rate-limited unless a decoder just started. */
  private requestKeyframe(participant: Participant, force: boolean): void {
    const now = performance.now();
    if (!force && now - participant.keyframeRequestedAt < KEYFRAME_REQUEST_INTERVAL_MS) return;
    participant.keyframeRequestedAt = now;
    participant.peer.requestKeyframe();
  }

  /** What a pipeline draws for a member: their latest picture, or undefined for the placeholder. */
  private pictureOf(userId: UserId): Picture | undefined {
    const participant = this.participants.get(userId);
    if (!participant?.picture || !participant.member.controls.video) return undefined;
    return performance.now() - participant.pictureAt < STALLED_MS ? participant.picture : undefined;
  }

  /**
   * Recomputes every subscriber's view. Subscribers move to the pipeline of their new view at its first
   * keyframe (make-before-break); pipelines nobody follows any more are stopped.
   */
  private async refreshViews(): Promise<void> {
    if (this.closed) return;
    const members = [...this.participants.values()].map((p) => p.member);
    const speakers = this.audio.speakerState;
    if (this.broadcast?.hasVideo && members.length > 0) this.broadcast.setView(this.broadcastView(members));
    const wanted = new Set<string>();
    for (const participant of this.participants.values()) {
      if (!participant.outbound) continue;
      const codec = participant.peer.videoCodec ?? this.profile.codec;
      // Viewer-only members watch what the broadcast shows.
      const profile = participant.member.viewerOnly ? { ...this.profile, layout: this.profile.broadcast.layout } : this.profile;
      const view = viewFor(participant.member, members, speakers, { ...profile, codec });
      const key = viewKey(view);
      wanted.add(key);
      let pipeline = this.pipelines.get(key);
      if (!pipeline) {
        pipeline = await ViewPipeline.start(view, key, (userId) => this.pictureOf(userId), this.log);
        this.pipelines.set(key, pipeline);
      }
      participant.outbound.follow(pipeline);
    }
    for (const [key, pipeline] of this.pipelines) {
      if (wanted.has(key)) continue;
      this.pipelines.delete(key);
      this.retiring.add(pipeline);
      this.retireIfUnused(pipeline);
    }
    this.scheduleDecoderResize();
  }

  /** The broadcast's view: its layout over everyone who sends, as nobody in particular sees it. */
  private broadcastView(members: Member[]): View {
    const audience: Member = { ...members[0]!, userId: -1, viewerOnly: true, controls: { ...members[0]!.controls, layout: null, watch: null } };
    return viewFor(audience, members, this.audio.speakerState, { ...this.profile, layout: this.profile.broadcast.layout, codec: 'H264' });
  }

  get lowLatencyHls(): LowLatencyHls | undefined {
    return this.lowLatency;
  }

  /**
   * New broadcast targets for a live room (its CometQL settings changed): the old broadcast ends first. Its
   * LL-HLS goes on (players see a discontinuity, not a new stream) if the new one has LL-HLS too.
   */
  replaceBroadcast(targets: BroadcastTargets | null): Promise<void> {
    return this.serialize(async () => {
      this.audio.broadcastTap = undefined;
      const old = this.broadcast;
      this.broadcast = undefined;
      await old?.close();
      this.broadcastTargets = targets;
      if (!(targets?.lowLatency && targets.hlsDir && this.participants.size > 0)) this.endLowLatencyHls();
      if (this.participants.size > 0) this.startBroadcast();
    });
  }

  private endLowLatencyHls(): void {
    this.lowLatency?.end();
    this.lowLatency = undefined;
  }

  private startBroadcast(): void {
    if (this.broadcast || !this.broadcastTargets) return;
    const members = [...this.participants.values()].map((p) => p.member);
    // An audio-only room broadcasts its sound alone.
    const video = this.profile.media === 'video' ? { view: this.broadcastView(members), pictures: (userId: UserId) => this.pictureOf(userId) } : null;
    const broadcast = new Broadcast(video, this.broadcastTargets, this.log, this.lowLatency);
    this.broadcast = broadcast;
    this.lowLatency = broadcast.lowLatencyHls;
    this.audio.broadcastTap = (samples) => broadcast.writeAudio(samples);
  }

  /** A subscriber asked for a keyframe: replace its view's encoder (an encoder starts with one). */
  private async restartViewOf(userId: UserId): Promise<void> {
    const pipeline = this.participants.get(userId)?.outbound?.pipeline;
    if (!pipeline || this.pipelines.get(pipeline.key) !== pipeline) return;
    const now = performance.now();
    if (now - (this.restartedAt.get(pipeline.key) ?? -Infinity) < ENCODER_RESTART_INTERVAL_MS) return;
    this.restartedAt.set(pipeline.key, now);
    const fresh = await ViewPipeline.start(pipeline.view, pipeline.key, (id) => this.pictureOf(id), this.log);
    this.pipelines.set(pipeline.key, fresh);
    this.retiring.add(pipeline);
    for (const participant of this.participants.values()) {
      if (participant.outbound?.pipeline === pipeline) participant.outbound.follow(fresh);
    }
    this.retireIfUnused(pipeline);
  }

  /** Stops a replaced pipeline once no subscriber follows it. */
  private retireIfUnused(pipeline: ViewPipeline | undefined): void {
    if (!pipeline || !this.retiring.has(pipeline) || pipeline.sinks.size > 0) return;
    this.retiring.delete(pipeline);
    void pipeline.close();
  }

  /**
   * Each decoder outputs the largest tile its member has in any view, so compositing only copies rows.
   * Restarting a decoder costs a process spawn and a keyframe, so after a layout change the decoders are
   * resized a little later, one at a time (the compositor scales in the meantime).
   */
  private scheduleDecoderResize(): void {
    clearTimeout(this.resizeTimer);
    const next = (): void => {
      if (this.closed) return;
      for (const participant of this.participants.values()) {
        const size = this.tileSizeOf(participant.member.userId);
        const decoder = participant.incoming?.decoder;
        if (!size || !decoder || (decoder.size.width === size.width && decoder.size.height === size.height)) continue;
        void decoder.resize(size);
        this.resizeTimer = setTimeout(next, DECODER_RESIZE_SPACING_MS);
        return;
      }
    };
    this.resizeTimer = setTimeout(next, DECODER_RESIZE_DELAY_MS);
  }

  private tileSizeOf(userId: UserId): CanvasSize | undefined {
    let best: CanvasSize | undefined;
    for (const { view } of this.pipelines.values()) {
      const index = view.visible.indexOf(userId);
      if (index < 0) continue;
      const rect = tileRects(view.layout, view.visible.length, view.canvas)[index]!;
      if (!best || rect.width * rect.height > best.width * best.height) best = { width: rect.width, height: rect.height };
    }
    return best;
  }
}

function audioControls(member: Member): { audible: boolean; deaf: boolean } {
  return { audible: member.controls.audio && !member.viewerOnly, deaf: member.controls.deaf };
}
