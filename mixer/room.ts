import type { Logger } from 'pino';
import type { CanvasSize, Member, Profile, UserId, VideoCodec, View } from '../src/domain.js';
import { RoomAudio } from './audio/audio.js';
import { Broadcast, type BroadcastTargets, type OutputState } from './broadcast/broadcast.js';
import { ViewStreams, type Wanted } from './encoders/viewStreams.js';
import type { Picture } from './views/frames.js';
import { MemberVideo } from './inbound/memberVideo.js';
import { tileRects } from './views/layouts/index.js';
import type { LowLatencyHls } from './broadcast/llHls.js';
import { SubscriberVideo } from './outbound/subscriberVideo.js';
import { answerOffer, type MediaNetwork, type MemberPeer } from './peer.js';
import type { RtpFields } from './rtp/packet.js';
import { viewFor } from './views/views.js';

interface Participant {
  member: Member;
  peer: MemberPeer;
  /** What the member sends, decoded (not for viewers, nor in audio-only rooms). */
  video: MemberVideo | undefined;
  /** What the member is sent (not in audio-only rooms). */
  subscriber: SubscriberVideo | undefined;
}

export interface RoomEvents {
  onTalking(userId: UserId, talking: boolean): void;
}

export interface RoomStats {
  /** The state of each broadcast output (empty without a broadcast). */
  broadcast: OutputState[];
  members: number;
  /** Video encoders running: one per distinct view, and the broadcast's. */
  videoEncoders: number;
  /** Members whose video is being decoded now. */
  videoDecoders: number;
  /** Decoders started since the room began (a codec change starts another). */
  decodersStarted: number;
  /** Frames the view streams' encoders produced (the broadcast's are not counted: its FFmpeg encodes). */
  framesEncoded: number;
  /** Distinct audio mixes being encoded. */
  audioMixes: number;
  framesRendered: number;
  framesDropped: number;
}

/**
 * One conference's media and who is in it: every member's WebRTC leg, what they send (decoded) and what
 * they are sent (a view stream), and the audio mix. Changes (joins, leaves, controls, speaker) run one at a
 * time, in order.
 */
export class Room {
  private readonly participants = new Map<UserId, Participant>();
  private readonly streams: ViewStreams;
  private readonly audio: RoomAudio;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Decoders of members who left, for decodersStarted. */
  private decodersOfFormerMembers = 0;

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
    this.streams = new ViewStreams((userId, size) => this.pictureOf(userId, size), log);
    this.audio = new RoomAudio({
      onTalking: (userId, talking) => events.onTalking(userId, talking),
      onSpeaker: () => void this.serialize(async () => this.refreshViews()),
    });
  }

  get size(): number {
    return this.participants.size;
  }

  stats(): RoomStats {
    const composed: { framesRendered: number; framesDropped: number }[] = [...this.streams.all];
    if (this.broadcast?.hasVideo) composed.push(this.broadcast);
    return {
      members: this.participants.size,
      videoEncoders: composed.length,
      videoDecoders: [...this.participants.values()].filter((p) => p.video?.decoding).length,
      decodersStarted: this.decodersOfFormerMembers + [...this.participants.values()].reduce((sum, p) => sum + (p.video?.decodersStarted ?? 0), 0),
      framesEncoded: [...this.streams.all].reduce((sum, stream) => sum + stream.framesEncoded, 0),
      audioMixes: this.audio.encoderCount,
      framesRendered: composed.reduce((sum, p) => sum + p.framesRendered, 0),
      framesDropped: composed.reduce((sum, p) => sum + p.framesDropped, 0),
      broadcast: this.broadcast?.outputStates() ?? [],
    };
  }

  /** Process ids of this room's FFmpeg children: the broadcast's encoder and outputs (for CPU accounting and tests). */
  ffmpegPids(): number[] {
    return [this.broadcast?.encoderPid, ...(this.broadcast?.outputPids() ?? [])].filter((pid): pid is number => pid !== undefined);
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
          onKeyframeRequest: () => this.participants.get(userId)?.subscriber?.requestKeyframe(),
          onFailed: () => {
            this.log.warn({ userId }, 'media connection failed');
            onFailed();
          },
        },
      });
      const video = this.profile.media === 'video';
      const participant: Participant = {
        member,
        peer,
        // A viewer's answer was sendonly; whatever it sends anyway is not decoded.
        video: video && !member.viewerOnly ? new MemberVideo(this.log.child({ userId }), () => peer.requestKeyframe()) : undefined,
        subscriber: video && peer.videoOut ? new SubscriberVideo(peer.videoOut) : undefined,
      };
      this.participants.set(userId, participant);
      this.audio.add(userId, peer.audioOut, audioControls(member));
      this.startBroadcast();
      this.refreshViews();
      return peer.answer;
    });
  }

  leave(userId: UserId): Promise<void> {
    return this.serialize(async () => {
      if (await this.removeParticipant(userId)) this.refreshViews();
    });
  }

  /** New controls (mute, video mute, deaf, layout, watch list) of a member. */
  update(member: Member): Promise<void> {
    return this.serialize(async () => {
      const participant = this.participants.get(member.userId);
      if (!participant) return;
      participant.member = member;
      this.audio.setControls(member.userId, audioControls(member));
      this.refreshViews();
    });
  }

  async close(): Promise<void> {
    await this.serialize(async () => {
      this.closed = true;
      this.audio.broadcastTap = undefined;
      await this.broadcast?.close();
      this.endLowLatencyHls();
      for (const userId of [...this.participants.keys()]) await this.removeParticipant(userId);
      await this.streams.close();
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
    participant.subscriber?.detach();
    this.decodersOfFormerMembers += participant.video?.decodersStarted ?? 0;
    this.audio.remove(userId);
    await Promise.all([participant.video?.close(), participant.peer.close()]);
    return true;
  }

  private receiveVideo(userId: UserId, packet: RtpFields, codec: VideoCodec): void {
    this.participants.get(userId)?.video?.receive(packet, codec);
  }

  /** What a view draws for a member: their latest picture at the tile's size, or undefined for the placeholder. */
  private pictureOf(userId: UserId, size: CanvasSize): Picture | undefined {
    const participant = this.participants.get(userId);
    if (!participant?.member.controls.video) return undefined;
    return participant.video?.picture(size);
  }

  /**
   * Recomputes every subscriber's view and maps the views onto view streams; then tells each member's
   * decoder the sizes it is drawn at.
   */
  private refreshViews(): void {
    if (this.closed) return;
    const members = [...this.participants.values()].map((p) => p.member);
    const speakers = this.audio.speakerState;
    const broadcastView = this.broadcast?.hasVideo && members.length > 0 ? this.broadcastView(members) : undefined;
    if (broadcastView) this.broadcast!.setView(broadcastView);
    const wanted: Wanted[] = [];
    for (const { member, peer, subscriber } of this.participants.values()) {
      if (!subscriber) continue;
      const codec = peer.videoCodec ?? this.profile.codec;
      // Viewer-only members watch what the broadcast shows.
      const profile = member.viewerOnly ? { ...this.profile, layout: this.profile.broadcast.layout } : this.profile;
      wanted.push({ subscriber, view: viewFor(member, members, speakers, { ...profile, codec }) });
    }
    this.streams.assign(wanted);
    for (const { member, video } of this.participants.values()) {
      const sizes = this.streams.tileSizesOf(member.userId);
      const index = broadcastView?.visible.indexOf(member.userId) ?? -1;
      if (broadcastView && index >= 0) {
        const { width, height } = tileRects(broadcastView.layout, broadcastView.visible.length, broadcastView.canvas)[index]!;
        if (!sizes.some((size) => size.width === width && size.height === height)) sizes.push({ width, height });
      }
      video?.setSizes(sizes);
    }
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
    const video = this.profile.media === 'video' ? { view: this.broadcastView(members), pictures: (userId: UserId, size: CanvasSize) => this.pictureOf(userId, size) } : null;
    const broadcast = new Broadcast(video, this.broadcastTargets, this.log, this.lowLatency);
    this.broadcast = broadcast;
    this.lowLatency = broadcast.lowLatencyHls;
    this.audio.broadcastTap = (samples) => broadcast.writeAudio(samples);
  }
}

function audioControls(member: Member): { audible: boolean; deaf: boolean } {
  return { audible: member.controls.audio && !member.viewerOnly, deaf: member.controls.deaf };
}
