import type { ServerResponse } from 'node:http';
import { PLAYLIST, type BlockingResult, type LowLatencyHls } from '../../mixer/broadcast/llHls.js';
import { withQueryInPlaylist } from './playlistUrls.js';

/** The names of a low-latency HLS's files; anything else of a room (its DASH) is on disk. */
export const LOW_LATENCY_FILE = /^(index\.m3u8|init-\d+\.mp4|segment-\d+\.m4s|part-\d+\.\d+\.m4s)$/;

/**
 * Answers a request for a room's low-latency HLS from the packager's memory: the playlist, blocking while
 * `_HLS_msn`/`_HLS_part` ask for what is not there yet, and its init, segments and parts. Parts never
 * change once written, so players and proxies may keep them; the playlist never, nor an error (a part that
 * is missing now may exist in a moment). `urlQuery` (a viewer token) is added to every URL the playlist names.
 */
export async function serveLowLatencyHls(response: ServerResponse, packager: LowLatencyHls, file: string, query: URLSearchParams, urlQuery?: string): Promise<void> {
  // A client that goes away stops waiting at once, instead of holding its place for seconds.
  const gone = new AbortController();
  response.once('close', () => gone.abort());
  if (file === PLAYLIST) {
    const msn = query.get('_HLS_msn');
    const part = query.get('_HLS_part');
    if ((msn !== null && !/^\d{1,15}$/.test(msn)) || (part !== null && (msn === null || !/^\d{1,6}$/.test(part)))) {
      send(response, { status: 400, reason: 'bad _HLS_msn or _HLS_part' }, '', '');
      return;
    }
    const result: BlockingResult<string> =
      msn === null ? { status: 200, body: packager.playlist() } : await packager.blockingPlaylist(Number(msn), part === null ? undefined : Number(part), gone.signal);
    const playlist = (body: string): Buffer => Buffer.from(urlQuery ? withQueryInPlaylist(body, urlQuery) : body);
    send(response, result.status === 200 ? { status: 200, body: playlist(result.body) } : result, 'application/vnd.apple.mpegurl', 'no-cache');
    return;
  }
  const result = await packager.file(file, gone.signal);
  if (result.status === 200) send(response, { status: 200, body: result.body.bytes }, result.body.type, 'max-age=60');
  else send(response, result, '', '');
}

function send(response: ServerResponse, result: BlockingResult<Buffer>, type: string, cache: string): void {
  if (response.destroyed) return;
  const common = { 'Access-Control-Allow-Origin': '*' };
  if (result.status !== 200) {
    const body = `${result.reason}\n`;
    response.writeHead(result.status, { ...common, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    response.end(body);
    return;
  }
  response.writeHead(200, { ...common, 'Content-Type': type, 'Content-Length': result.body.length, 'Cache-Control': cache });
  response.end(result.body);
}
