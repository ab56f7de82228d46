import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { connect, startMediaServer, type TestServer } from '../helpers/server.js';
import { BrowserFleet, CANVAS, eventually, FPS, type Conferencing } from './harness.js';
import { expectBothMembersInHls } from './mediaFiles.js';
import { ViewerPage } from './viewerPage.js';

/**
 * A private broadcast of two synthetic members (red, blue): only the URL conference_broadcast gives, with
 * its viewer token, plays, in hls.js in Chromium as low-latency HLS and then as plain HLS; when the room
 * ends, the plain playlist ends (EXT-X-ENDLIST) and its files go after [broadcast] keep_after_end.
 */

const dir = mkdtempSync(join(tmpdir(), 'cometmcu-private-broadcast-'));
const KEEP_AFTER_END_SECONDS = 6;

describe('broadcast: a private room', () => {
  let server: TestServer;
  let world: Conferencing;
  let sql: Connection;
  const fleet = new BrowserFleet(0, CANVAS, FPS);
  const http = (path: string) => `http://127.0.0.1:${server.httpPort}${path}`;
  const hlsUrl = async (): Promise<string> => {
    const [rows] = (await sql.query("SELECT hls_url FROM conference_broadcast WHERE name = 'stage'")) as [{ hls_url: string }[], unknown];
    return rows[0]!.hls_url;
  };

  beforeAll(async () => {
    const profiles = join(dir, 'profiles.ini');
    writeFileSync(profiles, `[show]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${FPS}\ncodec = VP8\nbitrate = 500\nlayout = grid\nmax_members = 16\nopen = true\n`);
    server = await startMediaServer(profiles, join(dir, 'data'), { COMET_BROADCAST_KEEP_AFTER_END: String(KEEP_AFTER_END_SECONDS) });
    world = { model: server.model, mixer: server.mixer! };
    sql = await connect(server);
    await sql.query("INSERT INTO conference_broadcast (name, hls, ll_hls, private) VALUES ('stage', 1, 1, 1)");
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'stage', profile: 'show' });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, volume: 0.3, room: 'stage', profile: 'show' });
  }, 60_000);

  afterAll(async () => {
    await sql?.end();
    await fleet.close();
    await server?.close();
  });

  const playsBothMembers = async (src: string): Promise<void> => {
    const viewer = await ViewerPage.open(server.httpPort, { src });
    try {
      await eventually(async () => expect(await viewer.tileColours()).toEqual(['red', 'blue']), 30_000);
    } finally {
      await viewer.close();
    }
  };

  it('plays as low-latency HLS in hls.js with the URL conference_broadcast gives, and to nobody without it', async () => {
    const src = await hlsUrl();
    expect(src).toMatch(/^\/hls\/0\/stage\/index\.m3u8\?token=\d+\.[\w-]{43}$/);
    const token = src.slice(src.indexOf('?'));
    let playlist = '';
    await eventually(async () => {
      playlist = await (await fetch(http(src))).text();
      expect(playlist).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART');
      expect(playlist).toContain('#EXTINF:');
    }, 20_000);
    // Maps, parts, segments and the preload hint: every URL the player will ask for carries the token.
    const urls = [...playlist.matchAll(/URI="([^"]+)"/g)].map((match) => match[1]!).concat(playlist.split('\n').filter((line) => line && !line.startsWith('#')));
    expect(urls.filter((url) => /^part-\d+\.\d+\.m4s\?/.test(url)).length).toBeGreaterThan(1);
    for (const url of urls) expect(url.endsWith(token), url).toBe(true);
    const part = /URI="(part-\d+\.\d+\.m4s)\?/.exec(playlist)![1];
    expect((await fetch(http(`/hls/0/stage/${part}`))).status).toBe(403);
    expect((await fetch(http('/hls/0/stage/index.m3u8'))).status).toBe(403);
    await playsBothMembers(src);
  }, 60_000);

  it('plays as plain HLS in hls.js once low latency is off, its segments named with the token', async () => {
    await sql.query("UPDATE conference_broadcast SET ll_hls = 0 WHERE name = 'stage'");
    const src = await hlsUrl();
    await eventually(async () => expect(await (await fetch(http(src))).text()).toMatch(/^segment-\d+\.ts\?token=/m), 20_000);
    await expectBothMembersInHls(http(src));
    await playsBothMembers(src);
  }, 90_000);

  it('ends its playlist when the room ends, and removes its files after keep_after_end', async () => {
    const src = await hlsUrl();
    await world.model.leave(0, 'stage', 1, 'hangup');
    await world.model.leave(0, 'stage', 2, 'hangup');
    await eventually(() => expect(server.mixer!.stats().rooms).toBe(0), 15_000);
    // Players given the playlist now stop instead of waiting for segments that never come.
    await eventually(async () => expect(await (await fetch(http(src))).text()).toMatch(/#EXT-X-ENDLIST\n$/), 10_000);
    const folder = join(dir, 'data', 'hls', '0', 'stage');
    expect(existsSync(folder)).toBe(true);
    await eventually(() => expect(existsSync(folder)).toBe(false), (KEEP_AFTER_END_SECONDS + 10) * 1000);
    // Its token still opens the room, where nothing is left; without one, it is refused as any room is.
    expect((await fetch(http(src))).status).toBe(404);
    expect((await fetch(http('/hls/0/stage/index.m3u8'))).status).toBe(403);
  }, 60_000);
});
