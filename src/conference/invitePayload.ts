import { createHash } from 'node:crypto';
import type { DevId, Invitation, Profile, RoomName, SipCallPayload } from '../domain.js';

export type { SipCallPayload };

/** Where browsers reach this node, and the salt of the signalling pipe name. */
export interface InviteSettings {
  serverName: string;
  serverPort: number;
  /** The port serves HTTPS and WSS only; plain HTTP and WS when absent. */
  secure?: boolean;
  pipesalt: string;
}

/** The number the browser dials: `<dev_id>*<room>*<profile>`. */
export function sipNumber(devId: DevId, room: RoomName, profile: string): string {
  return `${devId}*${room}*${profile}`;
}

/** C's `%<width>s`: right-justified with spaces, never truncated. */
const padLeft = (value: string, width: number): string => value.padStart(width, ' ');

/**
 * CppComet's per-room signalling pipe: sha1 of the padded room identity, base64, and every character
 * outside 'A'..'z' replaced by 'A' (which turns the prefix `web_syscall_v1_` into `web_syscall_vA_`).
 * Kept bit-for-bit so that pages written for CppComet find the same pipe.
 */
export function callPipe(number: string, settings: InviteSettings, devId: DevId): string {
  // A backend invites every member of a room, often: the pipe of a room is computed once.
  const key = `${devId}\0${number}\0${settings.serverName}\0${settings.serverPort}\0${settings.pipesalt}`;
  let pipe = callPipes.get(key);
  if (pipe === undefined) {
    if (callPipes.size >= 10_000) callPipes.clear();
    pipe = computeCallPipe(number, settings, devId);
    callPipes.set(key, pipe);
  }
  return pipe;
}

const callPipes = new Map<string, string>();

function computeCallPipe(number: string, settings: InviteSettings, devId: DevId): string {
  const source =
    `${padLeft(number, 64)}_${padLeft(settings.serverName, 64)}_${settings.serverPort}_${devId}_` +
    padLeft(settings.pipesalt, 32);
  const digest = createHash('sha1').update(source).digest('base64');
  return `web_syscall_v1_${digest}`.replace(/[^A-z]/g, 'A');
}

export function sipCallPayload(invitation: Invitation, profile: Profile, settings: InviteSettings): SipCallPayload {
  const number = sipNumber(invitation.devId, invitation.room, invitation.profile);
  return {
    message: invitation.message,
    sys: {
      conference: 'true',
      serverName: settings.serverName,
      serverPort: settings.serverPort,
      sipUrl: `${settings.secure ? 'wss' : 'ws'}://${settings.serverName}:${settings.serverPort}/sip`,
      callKey: invitation.callKey,
      callPipe: callPipe(number, settings, invitation.devId),
      sipNumber: number,
      caller_id: invitation.callerId,
      mode: invitation.profile,
      conference_name: invitation.room,
      stream: invitation.viewerOnly ? 1 : 0,
      type: profile.media,
    },
  };
}
