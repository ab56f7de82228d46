import type { ServerResponse } from 'node:http';
import { PLAYLIST, type BlockingResult, type LowLatencyHls } from '../../mixer/llHls.js';
import { sendText } from './server.js';

const HEADERS = { 'Access-Control-Allow-Origin': '*' };

/**
 * Answers a request for a room's low-latency HLS from the packager's memory: the playlist, blocking while
 * `_HLS_msn`/`_HLS_part` ask for what is not there yet, and its init, segments and parts. Parts never
 * change once written, so players and proxies may keep them; the playlist never.
 */
export async function serveLowLatencyHls(response: ServerResponse, packager: LowLatencyHls, file: string, query: URLSearchParams): Promise<void> {
  if (file === PLAYLIST) {
    const msn = query.get('_HLS_msn');
    const part = query.get('_HLS_part');
    if ((msn !== null && !/^\d+$/.test(msn)) || (part !== null && (msn === null || !/^\d+$/.test(part)))) {
      sendText(response, 400, 'bad _HLS_msn or _HLS_part\n');
      return;
    }
    const result = msn === null ? ({ status: 200, body: packager.playlist() } as const) : await packager.blockingPlaylist(Number(msn), part === null ? undefined : Number(part));
    send(response, result, 'application/vnd.apple.mpegurl', 'no-cache', (body) => Buffer.from(body));
    return;
  }
  send(response, await packager.file(file), file.endsWith('.mp4') ? 'video/mp4' : 'video/iso.segment', 'max-age=60', (body) => body);
}

function send<T>(response: ServerResponse, result: BlockingResult<T>, type: string, cache: string, bytes: (body: T) => Buffer): void {
  if (response.destroyed) return;
  if (result.status !== 200) {
    response.setHeader('Access-Control-Allow-Origin', '*');
    sendText(response, result.status, `${result.reason}\n`);
    return;
  }
  const body = bytes(result.body);
  response.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': cache, ...HEADERS });
  response.end(body);
}
