import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EndedBroadcasts } from '../../mixer/broadcast/endedBroadcasts.js';
import { internalErrorCounts } from '../../src/faults.js';
import { ViewerTokens } from '../../src/security/viewerTokens.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../mixer/harness.js';

/**
 * The embedded HLS/DASH of rooms as players and strangers reach it over HTTP. The rooms' files are written
 * here as FFmpeg writes them (a broadcast that ended, or is being written), so no media runs.
 */

const SECRET = 'the viewer token secret';
const PLAYLIST = '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.000,\nsegment-7.ts\n#EXTINF:1.000,\nsegment-8.ts\n';
const MANIFEST = '<MPD><Period><AdaptationSet><SegmentTemplate timescale="1000" initialization="dash-init-$RepresentationID$.m4s" media="dash-$RepresentationID$-$Number$.m4s" startNumber="1"/></AdaptationSet></Period></MPD>\n';

function writeBroadcast(dataDir: string, devId: number, room: string): string {
  const dir = join(dataDir, 'hls', String(devId), room);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.m3u8'), PLAYLIST);
  writeFileSync(join(dir, 'index.mpd'), MANIFEST);
  writeFileSync(join(dir, 'segment-7.ts'), Buffer.alloc(188, 0x47));
  return dir;
}

describe('private broadcasts', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cometmcu-private-'));
  let server: TestServer;
  let sql: Connection;
  const tokens = new ViewerTokens(SECRET, 60);
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${server.httpPort}/hls/${path}`, { headers });

  beforeAll(async () => {
    server = await startTestServer({ COMET_BROADCAST_DATA_DIR: dataDir, COMET_BROADCAST_TOKEN_SECRET: SECRET, COMET_BROADCAST_KEEP_AFTER_END: '3600' });
    sql = await connect(server);
    writeBroadcast(dataDir, 0, 'public');
    writeBroadcast(dataDir, 0, 'secret');
    writeBroadcast(dataDir, 1, 'secret');
    await sql.query("INSERT INTO conference_broadcast (name, hls, private) VALUES ('secret', 1, 1)");
  });
  afterAll(async () => {
    await sql?.end();
    await server?.close();
  });

  it('serves a public room to anyone, as it is', async () => {
    const playlist = await get('0/public/index.m3u8');
    expect(playlist.status).toBe(200);
    // No room writes it: it may already have been ended (EXT-X-ENDLIST), nothing more.
    expect(await playlist.text()).toMatch(/^#EXTM3U\n[^]*\nsegment-8\.ts\n(#EXT-X-ENDLIST\n)?$/);
    expect((await get('0/public/segment-7.ts')).status).toBe(200);
  });

  it('refuses a private room without a valid token the same way as a room that does not exist', async () => {
    const refusals = [
      await get('0/secret/index.m3u8'),
      await get('0/secret/segment-7.ts'),
      await get('0/secret/segment-999.ts'),
      await get('0/never-was/index.m3u8'),
      // The signature's first character changed (its last one carries bits that base64url decoding drops).
      await get(`0/secret/index.m3u8?token=${tokens.issue(0, 'secret').replace(/\.(.)/, (_, c: string) => (c === 'A' ? '.B' : '.A'))}`),
      await get(`0/secret/index.m3u8?token=${tokens.issue(0, 'other')}`),
      await get(`0/secret/index.m3u8?token=${tokens.issue(1, 'secret')}`),
      await get(`0/secret/index.m3u8?token=${new ViewerTokens(SECRET, 60, () => Date.now() - 61_000).issue(0, 'secret')}`),
      await get(`0/secret/index.m3u8?token=${new ViewerTokens('another secret', 60).issue(0, 'secret')}`),
      await get('0/secret/index.m3u8?token='),
      // A token is checked whatever the room: forged ones learn nothing about public rooms either.
      await get('0/public/index.m3u8?token=1.x'),
    ];
    for (const response of refusals) {
      expect(response.status, response.url).toBe(403);
      expect(await response.text()).toBe('forbidden\n');
    }
  });

  it('serves a private room with its token, and names every file of its playlists with the token too', async () => {
    const token = tokens.issue(0, 'secret');
    const playlist = await get(`0/secret/index.m3u8?token=${token}`);
    expect(playlist.status).toBe(200);
    const lines = (await playlist.text()).split('\n').filter((line) => line && !line.startsWith('#'));
    expect(lines).toEqual([`segment-7.ts?token=${token}`, `segment-8.ts?token=${token}`]);
    // What a player asks for next, with the URL the playlist gave it.
    const segment = await fetch(new URL(lines[0]!, playlist.url));
    expect(segment.status).toBe(200);
    expect(Buffer.from(await segment.arrayBuffer())).toEqual(Buffer.alloc(188, 0x47));
    const manifest = await (await get(`0/secret/index.mpd?token=${token}`)).text();
    expect(manifest).toContain(`initialization="dash-init-$RepresentationID$.m4s?token=${token}" media="dash-$RepresentationID$-$Number$.m4s?token=${token}"`);
    // The token of dev_id 0's room is no key to dev_id 1's room of the same name.
    expect((await get(`1/secret/index.m3u8?token=${token}`)).status).toBe(403);
    expect((await get(`1/secret/index.m3u8?token=${tokens.issue(1, 'secret')}`)).status).toBe(200);
  });

  it('shows the setting in conference_broadcast, and follows a change at once', async () => {
    expect((await sql.query("SELECT name, private FROM conference_broadcast WHERE name = 'secret'"))[0]).toEqual([{ name: 'secret', private: '1' }]);
    await sql.query("UPDATE conference_broadcast SET private = 0 WHERE name = 'secret'");
    expect((await get('0/secret/index.m3u8')).status).toBe(200);
    await sql.query("UPDATE conference_broadcast SET private = 1 WHERE name = 'secret'");
    expect((await get('0/secret/index.m3u8')).status).toBe(403);
    await expect(sql.query("UPDATE conference_broadcast SET private = 'yes' WHERE name = 'secret'")).rejects.toMatchObject({ errno: 12 });
  });

  it('names no room in /metrics unless [http] metrics_rooms is on', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    // The viewers of every room so far, summed.
    expect(metrics).toMatch(/^cometmcu_hls_viewers [1-9]\d*$/m);
    expect(metrics).not.toMatch(/room="/);
  });
});

describe('viewers of a broadcast', () => {
  it('are counted by address and session, never by User-Agent', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cometmcu-viewers-'));
    writeBroadcast(dataDir, 0, 'show');
    const server = await startTestServer({ COMET_BROADCAST_DATA_DIR: dataDir, COMET_HTTP_METRICS_ROOMS: 'true' });
    try {
      const get = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${server.httpPort}/hls/0/show/index.m3u8`, { headers });
      const viewers = async (): Promise<string | undefined> =>
        /^cometmcu_hls_viewers\{room="0\*show"\} (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text())?.[1];
      // A player without cookies that makes up a User-Agent per request is one viewer.
      for (let i = 0; i < 20; i++) expect((await get({ 'User-Agent': `player ${i}` })).status).toBe(200);
      expect(await viewers()).toBe('1');
      // Two players that keep the session cookie they were given are one each.
      for (let player = 0; player < 2; player++) {
        const cookie = (await get({})).headers.get('set-cookie')!.split(';')[0]!;
        expect(cookie).toMatch(/^cometmcu_viewer=[\w-]{22}$/);
        for (let i = 0; i < 5; i++) await get({ Cookie: cookie, 'User-Agent': `player ${player} ${i}` });
      }
      expect(await viewers()).toBe('3');
      // Through a proxy on this machine, each address it forwarded is a viewer of its own.
      for (let address = 1; address <= 3; address++) await get({ 'X-Forwarded-For': `198.51.100.${address}` });
      expect(await viewers()).toBe('6');
    } finally {
      await server.close();
    }
  });
});

describe('an ended broadcast', () => {
  it('ends its playlist (EXT-X-ENDLIST) and goes after [broadcast] keep_after_end', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cometmcu-ended-'));
    const dir = writeBroadcast(dataDir, 0, 'over');
    const server = await startTestServer({ COMET_BROADCAST_DATA_DIR: dataDir, COMET_BROADCAST_KEEP_AFTER_END: '4' });
    try {
      const playlist = `http://127.0.0.1:${server.httpPort}/hls/0/over/index.m3u8`;
      await eventually(() => expect(readFileSync(join(dir, 'index.m3u8'), 'utf8')).toBe(`${PLAYLIST}#EXT-X-ENDLIST\n`), 10_000);
      expect(await (await fetch(playlist)).text()).toMatch(/#EXT-X-ENDLIST\n$/);
      await eventually(() => expect(existsSync(dir)).toBe(false), 15_000);
      // Its dev_id's folder goes with its last room.
      await eventually(() => expect(existsSync(join(dataDir, 'hls', '0'))).toBe(false), 5000);
      expect((await fetch(playlist)).status).toBe(403);
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('the sweep of ended broadcasts', () => {
  it('reports a bug of ours as an internal error, not as a disk warning, and sweeps on', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'cometmcu-sweep-')), 'hls');
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const before = internalErrorCounts().get('broadcast sweep') ?? 0;
    let calls = 0;
    writeBroadcast(join(root, '..'), 0, 'room');
    const sweeper = new EndedBroadcasts(root, 3_600_000, () => {
      if (++calls === 1) throw new TypeError('a bug of ours');
      return [];
    }, log);
    try {
      await eventually(() => expect(readFileSync(join(root, '0', 'room', 'index.m3u8'), 'utf8')).toMatch(/#EXT-X-ENDLIST\n$/), 10_000);
      expect((internalErrorCounts().get('broadcast sweep') ?? 0) - before).toBe(1);
      expect(warnings.filter((line) => line.includes('cannot end'))).toEqual([]);
    } finally {
      sweeper.close();
    }
  }, 15_000);
});
