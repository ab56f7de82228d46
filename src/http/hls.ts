import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Mixer } from '../../mixer/mixer.js';
import { roomKey } from '../domain.js';
import { nameProblem } from '../messaging/names.js';
import { requestAddress } from '../net.js';
import { serveFile } from './assets.js';
import type { BroadcastAccess } from './broadcastAccess.js';
import { LOW_LATENCY_FILE, serveLowLatencyHls } from './llHls.js';
import { withQueryInManifest, withQueryInPlaylist } from './playlistUrls.js';
import { sendText, type RequestHandler } from './server.js';

/** `/hls/<dev_id>/<room>/<file>`: the only paths below /hls/. */
const ROOM_FILE = /^\/hls\/(\d{1,10})\/([^/]+)\/([^/]+)$/;
const FILE_NAME = /^[\w-][\w.-]{0,127}$/;
const PLAYLIST = /^index\.(m3u8|mpd)$/;
/** A viewer's session, kept by players that keep cookies (browsers of our origin, FFmpeg). */
const SESSION_COOKIE = 'cometmcu_viewer';
const SESSION = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([\\w-]{22})(?:;|$)`);

export interface BroadcastServing {
  /** `<data_dir>/hls`: the rooms' plain HLS and DASH files. */
  root: string;
  /** Where the rooms' low-latency HLS lives (in memory); none without a mixer. */
  mixer: Mixer | undefined;
  access: BroadcastAccess;
  /** A viewer was given a room's playlist (`room`: its roomKey). `session`: '' for a player without cookies. */
  onViewer(room: string, address: string, session: string): void;
}

/**
 * The embedded HLS/DASH of broadcasting rooms at /hls/<dev_id>/<room>/: low-latency HLS from the
 * packager's memory, plain HLS and DASH from their files. A private room's files go only to requests with
 * a viewer token for it, and its playlists name every other file with the token, so players keep it.
 */
export function serveBroadcasts({ root, mixer, access, onViewer }: BroadcastServing): RequestHandler {
  return async (request, response, url) => {
    const parts = ROOM_FILE.exec(url.pathname);
    if (!parts) return sendText(response, 404, 'not found\n');
    const [devId, room, file] = [Number(parts[1]), decodeURIComponent(parts[2]!), decodeURIComponent(parts[3]!)];
    const token = url.searchParams.get('token');
    if (nameProblem(room, 1) || !FILE_NAME.test(file) || !(await access.allows(devId, room, token))) return sendText(response, 403, 'forbidden\n');
    // A token that verified is made of URL-safe characters.
    const urlQuery = token === null ? undefined : `token=${token}`;
    const playlist = PLAYLIST.test(file);
    const session = playlist ? viewerSession(request, response) : '';
    const packager = LOW_LATENCY_FILE.test(file) ? mixer?.lowLatencyHls(devId, room) : undefined;
    if (packager) {
      await serveLowLatencyHls(response, packager, file, url.searchParams, urlQuery);
    } else {
      const transform = urlQuery ? (body: Buffer, extension: string) => withToken(body, extension, urlQuery) : undefined;
      await serveFile(response, join(root, String(devId), room), file, { 'Cache-Control': 'no-cache', 'Access-Control-Allow-Origin': '*' }, transform);
    }
    // Viewers are counted by the playlists they were given, so made-up rooms count nothing.
    if (playlist && response.statusCode === 200) onViewer(roomKey(devId, room), requestAddress(request), session);
  };
}

/** True while a room has something to serve: its low-latency HLS in memory, or a folder of files. */
export async function hasBroadcast(root: string, mixer: Mixer | undefined, devId: number, room: string): Promise<boolean> {
  if (mixer?.lowLatencyHls(devId, room)) return true;
  return (await stat(join(root, String(devId), room)).catch(() => undefined))?.isDirectory() === true;
}

function withToken(body: Buffer, extension: string, urlQuery: string): Buffer {
  if (extension === '.m3u8') return Buffer.from(withQueryInPlaylist(body.toString(), urlQuery));
  if (extension === '.mpd') return Buffer.from(withQueryInManifest(body.toString(), urlQuery));
  return body;
}

/**
 * The session cookie the player sent, or '' (then it gets one for its next request): a player is counted
 * by its address and session, never by what it says it is (a User-Agent made up per request counted anew).
 */
function viewerSession(request: IncomingMessage, response: ServerResponse): string {
  const session = SESSION.exec(request.headers.cookie ?? '')?.[1];
  if (session) return session;
  response.setHeader('Set-Cookie', `${SESSION_COOKIE}=${randomBytes(16).toString('base64url')}; Path=/hls/; Max-Age=86400; HttpOnly; SameSite=Lax`);
  return '';
}
