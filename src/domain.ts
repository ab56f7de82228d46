/**
 * The domain types every layer speaks: CometQL tables, the conference model, SIP, the gateway and the mixer.
 * Plain data only (no methods, no live objects), so they cross the store boundary as copies.
 */

/** Tenant id: the MySQL user name of a CometQL connection (`root` means 0). Everything is scoped by it. */
export type DevId = number;
export type UserId = number;
/** A room name as the backend chose it, unique within a dev_id. */
export type RoomName = string;

/** A user's key: the browser's `user_key` for the comet WebSocket and the SIP digest password. */
export interface UserKey {
  devId: DevId;
  userId: UserId;
  hash: string;
}

export type LayoutName = 'grid' | 'personal' | 'speaker' | 'single';
export const LAYOUT_NAMES: readonly LayoutName[] = ['grid', 'personal', 'speaker', 'single'];

export function isLayoutName(text: string): text is LayoutName {
  return (LAYOUT_NAMES as readonly string[]).includes(text);
}

export type VideoCodec = 'VP8' | 'H264';

export interface CanvasSize {
  width: number;
  height: number;
}

/** A conference profile (conf/profiles.ini): what a room invited with `profile = name` looks and sounds like. */
export interface Profile {
  name: string;
  /** `audio` rooms carry no video at all. */
  media: 'video' | 'audio';
  canvas: CanvasSize;
  fps: number;
  codec: VideoCodec;
  videoBitrateKbps: number;
  layout: LayoutName;
  maxMembers: number;
  /** An open room lets any user with a key join without an invitation. */
  open: boolean;
  broadcast: BroadcastSettings;
}

/**
 * Where a room is broadcast to viewers who are not in it. Templates may use ${conference_name}, ${dev_id}
 * and ${time}.
 */
export interface BroadcastSettings {
  /** The view broadcast: by default a grid of everyone. Viewer-only members see it too. */
  layout: LayoutName;
  /** Push H.264 + AAC in FLV to this rtmp:// or rtmps:// URL. */
  rtmp: string | null;
  /** Write HLS (and DASH) for the embedded player at /hls/<dev_id>/<room>/. */
  hls: boolean;
  /** The embedded HLS is low-latency HLS (fMP4 parts, blocking reload), kept in memory; implies hls. */
  llHls: boolean;
  dash: boolean;
  /** Record to this MP4 file. */
  record: string | null;
  /** The embedded HLS/DASH is served only with a viewer token (conference_broadcast.private = 1). */
  private?: boolean;
}

/** The state of one output of a live broadcast. */
export interface BroadcastOutputState {
  kind: 'rtmp' | 'hls' | 'll-hls' | 'dash' | 'record';
  target: string;
  /** Running and fed right now (an RTMP push being retried is not). */
  running: boolean;
  restarts: number;
}

/** True when a room with these settings is broadcast anywhere. */
export function broadcasts(settings: BroadcastSettings): boolean {
  return settings.rtmp !== null || settings.hls || settings.llHls || settings.dash || settings.record !== null;
}

/** A row of the `conference` table: user `userId` is invited to `room`. */
export interface Invitation {
  devId: DevId;
  room: RoomName;
  userId: UserId;
  callerId: UserId;
  /** The backend's message, passed to the browser's `onCall` untouched. */
  message: string;
  profile: string;
  /** `stream = 1`: the invitee only watches the broadcast view and sends nothing. */
  viewerOnly: boolean;
  /** `host:port` of the node that serves this room. */
  node: string;
  /** Unique per invitation, as CppComet's `callKey`. */
  callKey: string;
  createdAt: number;
}

/** The controls a backend or the member sets; columns of `conference_members`. */
export interface MemberControls {
  /** false = muted: nobody hears this member. */
  audio: boolean;
  /** false = video muted: a placeholder shows instead of the camera. */
  video: boolean;
  /** true = this member hears silence. */
  deaf: boolean;
  /** This member's own layout, or null for the conference's. */
  layout: LayoutName | null;
  /** Whom this member sees, in this order, or null for the layout's choice. */
  watch: UserId[] | null;
}

export const DEFAULT_CONTROLS: Readonly<MemberControls> = Object.freeze({
  audio: true,
  video: true,
  deaf: false,
  layout: null,
  watch: null,
});

/** A participant who is in a room right now (a row of `conference_members`). */
export interface Member {
  devId: DevId;
  room: RoomName;
  userId: UserId;
  profile: string;
  viewerOnly: boolean;
  joinedAt: number;
  /** Epoch ms of the last time the member talked, or null if never. */
  lastTalkingAt: number | null;
  talking: boolean;
  controls: MemberControls;
}

/** Why a member left; carried to the browser as the reason of `onOut` / `onCallEnd`. */
export type LeaveReason = 'hangup' | 'kicked' | 'uninvited' | 'key-revoked' | 'media-failed' | 'shutdown';

/** A room that has members now. */
export interface Conference {
  devId: DevId;
  room: RoomName;
  profile: string;
  startedAt: number;
  members: number;
}

/**
 * What one subscriber sees. Subscribers whose views are equal share one compositor and encoder, so the
 * fields are exactly what makes two canvases differ.
 */
/** Who is speaking in a room, as the speech detector decided. */
export interface SpeakerState {
  active: UserId | null;
  /** The speaker before the active one: what the active speaker sees in the speaker layout. */
  previous: UserId | null;
}

export interface View {
  layout: LayoutName;
  /** Members shown, in tile order. */
  visible: UserId[];
  canvas: CanvasSize;
  fps: number;
  codec: VideoCodec;
  videoBitrateKbps: number;
}

/**
 * The `data` of CppComet's `sys_sipCall` event (spec 3.1), plus `type` so the browser knows audio from video
 * and `sipUrl` so it knows ws:// from wss://.
 */
export interface SipCallPayload {
  message: string;
  sys: {
    conference: 'true';
    serverName: string;
    serverPort: number;
    /** SIP over WebSocket at serverName:serverPort, with the scheme the port serves (wss:// with TLS). */
    sipUrl: string;
    callKey: string;
    callPipe: string;
    sipNumber: string;
    caller_id: number;
    mode: string;
    conference_name: RoomName;
    stream: number;
    type: 'audio' | 'video';
  };
}

/** The key that identifies a room across layers: CppComet's `<dev_id>*<room>`. */
/** The SIP user name CppComet's browsers use: dev 0 user 5 → `0000005`; dev 15 user 1 → `0000151`. */
export function sipUser(devId: DevId, userId: UserId): string {
  return `${String(devId).padStart(6, '0')}${userId}`;
}

/**
 * The close code of a comet or SIP WebSocket whose user's key was revoked: the browser must not reconnect
 * with it.
 */
export const CLOSE_KEY_REVOKED = 4001;

export function roomKey(devId: DevId, room: RoomName): string {
  return `${devId}*${room}`;
}

// ---- messaging (comet pipes and personal messages) --------------------------------------------------

/** A comet channel name ("pipe"): 3-64 characters of A-Za-z0-9_-, unique within a dev_id. */
export type PipeName = string;

/** A personal message waiting for its offline user (a row of `users_messages`). */
export interface QueuedMessage {
  devId: DevId;
  userId: UserId;
  /** A uuid: the `index` column, as CppComet showed it. */
  id: string;
  event: string;
  /** The text the browser gets as `data` (an object's JSON, for invitations). */
  message: string;
  queuedAt: number;
  expiresAt: number;
}

/** A message kept in a pipe's history (a row of `pipes_messages`). */
export interface PipeMessage {
  devId: DevId;
  pipe: PipeName;
  /** A uuid. */
  id: string;
  time: number;
  event: string;
  message: string;
  /** The browser user who sent it with web_pipe2; 0 for the backend or a hidden sender. */
  userId: UserId;
  /** trust_ pipes keep messages for a while; null: kept until trimmed. */
  expiresAt: number | null;
}
