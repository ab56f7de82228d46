/**
 * cometVideoApi: CppComet's browser API for video conferences, rebuilt on modern browser APIs. The backend
 * invites the user (INSERT INTO conference); the page hears onCall, calls acceptCall, and joins the room's
 * mixer over WebRTC with JsSIP (SIP over WebSocket at /sip). Served bundled at /cometVideoApi.js.
 */
import * as JsSIP from 'jssip';
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { UA } from 'jssip/lib/UA';
import { CometConnection, type CometFrame } from './comet.js';
import { sipUser, type SipCallPayload } from '../domain.js';

type CallType = SipCallPayload['sys']['type'];

/** An invitation as the page holds it: the server's sys_sipCall data, its message parsed when it is JSON. */
type CallInfo = Omit<SipCallPayload, 'message'> & { message: unknown };

export interface StartOptions {
  user_id: number;
  user_key: string;
  dev_id?: number;
  /** `host:port` of the server; default: the page's host. */
  node?: string;
  wss?: boolean;
  bandwidth_video?: number;
  bandwidth_audio?: number;
  onAuthSuccess?(): void;
  onAuthFail?(): void;
  onCall?(event: { data: unknown }): void;
  onCallAccept?(event: { action: 'accept'; callInfo: CallInfo; accept_type: CallType }): void;
  onCallStart?(event: { action: 'start'; status: 'start'; callInfo: CallInfo; type: CallType }): void;
  onCallEnd?(event: { action: 'out'; callInfo: CallInfo | undefined; status: string; time: number; fullTime: number }): void;
  onIn?(event: { action: 'in'; user_id: number; callInfo: CallInfo }): void;
  onOut?(event: { action: 'out'; user_id: number; status: string; callInfo: CallInfo; type: CallType }): void;
}

export interface AcceptOptions {
  type?: CallType;
  video_remote?: HTMLVideoElement;
  audio_remote?: HTMLAudioElement;
  video_local?: HTMLVideoElement;
  custom_stream?: MediaStream;
}

interface ActiveCall {
  info: CallInfo;
  type: CallType;
  ua: UA;
  session: RTCSession | undefined;
  stream: MediaStream | undefined;
  acceptedAt: number;
  /** When media started to flow (onCallStart); 0 until then. */
  startedAt: number;
  accepted: boolean;
  ended: boolean;
}

let options: StartOptions | undefined;
let comet: CometConnection | undefined;
let realUserKey = '';
let iceServers: RTCIceServer[] = [];
let incoming: CallInfo | undefined;
let call: ActiveCall | undefined;
const bandwidth = { video: 256, audio: 32 };

/** CppComet's SIP user: dev_id as six digits, then user_id. */
function parseCall(frame: CometFrame): CallInfo | undefined {
  // Queued invitations arrive with their data as a JSON string, as CppComet sent them.
  const data = typeof frame.data === 'string' ? safeJson(frame.data) : frame.data;
  const info = data as CallInfo | undefined;
  if (!info?.sys?.sipNumber) return undefined;
  return { ...info, message: typeof info.message === 'string' ? (safeJson(info.message) ?? info.message) : info.message };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function start(opt: StartOptions): void {
  comet?.close();
  options = opt;
  if (opt.bandwidth_video) bandwidth.video = opt.bandwidth_video;
  if (opt.bandwidth_audio) bandwidth.audio = opt.bandwidth_audio;
  comet = new CometConnection(opt);
  comet.on('sys.serverInfo', (frame) => {
    if (frame.authorized) {
      realUserKey = String(frame.data);
      iceServers = frame.iceServers ?? [];
      opt.onAuthSuccess?.();
    } else {
      opt.onAuthFail?.();
    }
  });
  comet.on('sys.revoked', () => {
    endCall('terminated');
    opt.onAuthFail?.();
  });
  comet.on('msg.sys_sipCall', (frame) => {
    const info = parseCall(frame);
    if (!info) return;
    // Invited again to the room we are in (another device answered, or a re-invite): nothing to ask.
    if (call && !call.ended && call.info.sys.conference_name === info.sys.conference_name) return;
    incoming = info;
    opt.onCall?.({ data: info.message });
  });
  comet.on('msg.sys_conferenceIn', (frame) => {
    const data = frame.data as { conference_name: string; user_id: number };
    if (!call || call.ended || data.conference_name !== call.info.sys.conference_name) return;
    if (!call.accepted && call.info.sys.caller_id === opt.user_id) {
      call.accepted = true;
      opt.onCallAccept?.({ action: 'accept', callInfo: call.info, accept_type: call.type });
    }
    opt.onIn?.({ action: 'in', user_id: data.user_id, callInfo: call.info });
  });
  comet.on('msg.sys_conferenceOut', (frame) => {
    const data = frame.data as { conference_name: string; user_id: number; reason: string };
    if (!call || call.ended || data.conference_name !== call.info.sys.conference_name) return;
    opt.onOut?.({ action: 'out', user_id: data.user_id, status: data.reason, callInfo: call.info, type: call.type });
  });
  comet.on('msg.sys_callEnd', (frame) => {
    const data = frame.data as { conference_name: string; reason: string };
    if (call && !call.ended && data.conference_name === call.info.sys.conference_name) endCall(data.reason);
    else if (incoming?.sys.conference_name === data.conference_name) incoming = undefined;
  });
  comet.connect();
}

/** Answers the last incoming call: camera and microphone, then SIP registration and the call to the room. */
async function acceptCall(opt: AcceptOptions = {}): Promise<boolean> {
  if (!options || !comet || !incoming || (call && !call.ended)) return false;
  const info = incoming;
  incoming = undefined;
  const type: CallType = opt.type ?? info.sys.type;
  const stream = opt.custom_stream ?? (await navigator.mediaDevices.getUserMedia({ audio: true, video: type === 'video' }));
  if (opt.video_local) {
    opt.video_local.muted = true;
    opt.video_local.srcObject = stream;
  }
  const host = comet.node.replace(/:\d+$/, '');
  const user = sipUser(options.dev_id ?? 0, options.user_id);
  const socket = new JsSIP.WebSocketInterface(`${comet.secure ? 'wss' : 'ws'}://${comet.node}/sip`);
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: `sip:${user}@${host}`,
    authorization_user: user,
    password: realUserKey,
    display_name: user,
    register: true,
    session_timers: false,
  });
  const active: ActiveCall = { info, type, ua, session: undefined, stream, acceptedAt: Date.now(), startedAt: 0, accepted: false, ended: false };
  call = active;
  ua.on('registrationFailed', () => endCall('registration-failure'));
  // JsSIP registers again after a reconnect; only the first registration places the call.
  ua.on('registered', () => {
    if (active.ended || active.session) return;
    const session = ua.call(`sip:${info.sys.sipNumber}@${host}`, {
      mediaStream: stream,
      pcConfig: { iceServers },
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: type === 'video' },
    });
    active.session = session;
    session.on('sdp', (event) => {
      if (event.originator === 'local') event.sdp = withBandwidth(event.sdp);
    });
    session.on('peerconnection', ({ peerconnection }) => attachConnection(peerconnection, active, opt));
    if (session.connection) attachConnection(session.connection, active, opt);
    session.on('ended', (event) => endCall(event.originator === 'remote' ? remoteReason(event) : 'hangup'));
    session.on('failed', (event) => endCall(reasonOf(event.cause)));
  });
  ua.start();
  return true;
}

/**
 * Shows what the room sends, and follows the media: the call starts (onCallStart) when media flows, that is
 * when the connection is up (ICE and DTLS) or a remote track gets its first packets, not when SIP says the
 * call is confirmed (a call can be confirmed and never get media); a connection that fails ends the call.
 */
function attachConnection(connection: RTCPeerConnection, active: ActiveCall, opt: AcceptOptions): void {
  const mediaFlows = (): void => {
    if (active.startedAt || active.ended) return;
    active.startedAt = Date.now();
    options?.onCallStart?.({ action: 'start', status: 'start', callInfo: active.info, type: active.type });
  };
  connection.addEventListener('connectionstatechange', () => {
    if (connection.connectionState === 'connected') mediaFlows();
    else if (connection.connectionState === 'failed') endCall('media-failed');
  });
  connection.addEventListener('track', (event) => {
    event.track.addEventListener('unmute', mediaFlows, { once: true });
    const stream = event.streams[0] ?? new MediaStream([event.track]);
    if (event.track.kind === 'video' && opt.video_remote) opt.video_remote.srcObject = stream;
    if (event.track.kind === 'audio' && opt.audio_remote) opt.audio_remote.srcObject = stream;
    // A page without an audio element still hears the conference through the video element.
    if (event.track.kind === 'audio' && !opt.audio_remote && opt.video_remote && !opt.video_remote.srcObject) opt.video_remote.srcObject = stream;
  });
}

/** Our server says why it ends a call in its BYE (Reason: Q.850;cause=47;text="media-failed", RFC 3326). */
function remoteReason(event: EndEvent): string {
  const header = event.message?.getHeader('Reason');
  return (header && /\btext="([^"]+)"/.exec(header)?.[1]) || reasonOf(event.cause);
}

function reasonOf(cause: string | undefined): string {
  return cause ? cause.toLowerCase().replace(/\s+/g, '-') : 'terminated';
}

/** CppComet's bandwidth rewrite: b=AS after each m= line, for the browser's encoder. */
function withBandwidth(sdp: string): string {
  return sdp
    .replace(/\r?\nb=AS:\d+/g, '')
    .replace(/(\r?\nm=video[^\r\n]*)/g, `$1\r\nb=AS:${bandwidth.video}`)
    .replace(/(\r?\nm=audio[^\r\n]*)/g, `$1\r\nb=AS:${bandwidth.audio}`);
}

function endCall(status: string): void {
  const active = call;
  if (!active || active.ended) return;
  active.ended = true;
  const now = Date.now();
  try {
    if (active.session && !active.session.isEnded()) active.session.terminate();
  } catch {
    // already gone
  }
  active.ua.stop();
  active.stream?.getTracks().forEach((track) => track.stop());
  options?.onCallEnd?.({
    action: 'out',
    callInfo: active.info,
    status,
    time: active.startedAt ? now - active.startedAt : 0,
    fullTime: now - active.acceptedAt,
  });
}

function hangup(): void {
  endCall('hangup');
}

/** Declines the last incoming call. */
function busy(): void {
  incoming = undefined;
}

function muteAudio(mute: boolean): void {
  call?.stream?.getAudioTracks().forEach((track) => (track.enabled = !mute));
}

function muteVideo(mute: boolean): void {
  call?.stream?.getVideoTracks().forEach((track) => (track.enabled = !mute));
}

function isMute(): { audio: boolean; video: boolean } {
  const tracks = call?.stream;
  return {
    audio: !!tracks && tracks.getAudioTracks().every((track) => !track.enabled),
    video: !!tracks && tracks.getVideoTracks().every((track) => !track.enabled),
  };
}

function toggleMute(): void {
  const { audio, video } = isMute();
  muteAudio(!audio);
  muteVideo(!video);
}

function isInCall(): boolean {
  return !!call && !call.ended;
}

/** Sets the bandwidth (kbit/s) asked of the browser's encoders from the next call on; returns the values. */
function setBandwidth(values: { video?: number; audio?: number } = {}): { video: number; audio: number } {
  if (values.video) bandwidth.video = values.video;
  if (values.audio) bandwidth.audio = values.audio;
  return { ...bandwidth };
}

export const cometVideoApi = { start, acceptCall, hangup, busy, muteAudio, muteVideo, toggleMute, isMute, isInCall, setBandwidth, version: '2.0' };

declare global {
  interface Window {
    cometVideoApi: typeof cometVideoApi;
  }
}
window.cometVideoApi = cometVideoApi;
