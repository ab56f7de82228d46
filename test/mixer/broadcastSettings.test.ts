import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { connect, startMediaServer, type TestServer } from '../helpers/server.js';
import { BrowserFleet, eventually, FPS } from './harness.js';

/** A room's own broadcast settings through CometQL: set, seen live, changed live, given back. */
describe('CometQL conference_broadcast', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cometmcu-broadcast-settings-'));
  let server: TestServer;
  let sql: Connection;
  const fleet = new BrowserFleet(0, { width: 640, height: 360 }, FPS);
  const get = (path: string) => fetch(`http://127.0.0.1:${server.httpPort}${path}`);

  beforeAll(async () => {
    const profiles = join(dir, 'profiles.ini');
    writeFileSync(profiles, `[plain]\nmedia = video\ncanvas = 640x360\nfps = ${FPS}\ncodec = VP8\nbitrate = 500\nlayout = grid\nmax_members = 16\nopen = true\n`);
    server = await startMediaServer(profiles, join(dir, 'data'));
    sql = await connect(server);
  }, 30_000);

  afterAll(async () => {
    await fleet.close();
    await sql?.end();
    await server?.close();
  });

  it('gives a room its own settings before it starts, and shows them', async () => {
    const [insert] = await sql.query("INSERT INTO conference_broadcast (name, hls) VALUES ('talk', 1)");
    expect(insert).toMatchObject({ affectedRows: 1 });
    expect((await sql.query("SELECT name, hls, dash, own, active, outputs FROM conference_broadcast WHERE name = 'talk'"))[0]).toEqual([
      { name: 'talk', hls: '1', dash: '0', own: '1', active: '0', outputs: '' },
    ]);
    await expect(sql.query("INSERT INTO conference_broadcast (name, rtmp) VALUES ('talk', 'http://x')")).rejects.toMatchObject({ errno: 12 });
  });

  it('broadcasts the room when it starts, and SELECT shows where', async () => {
    const world = { model: server.model, mixer: server.mixer! };
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400, room: 'talk', profile: 'plain', source: 'replay', decode: false });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, room: 'talk', profile: 'plain', source: 'replay', decode: false });
    await eventually(async () => expect((await get('/hls/0/talk/index.m3u8')).status).toBe(200), 20_000);
    await eventually(async () => {
      const [rows] = await sql.query("SELECT active, outputs, hls_url FROM conference_broadcast WHERE name = 'talk'");
      expect(rows).toEqual([{ active: '1', outputs: 'hls:running', hls_url: '/hls/0/talk/index.m3u8' }]);
    });
    expect(server.mixer!.stats().videoEncoders).toBe(2);
  }, 60_000);

  it('follows an UPDATE live, and a DELETE gives the room its profile back (no broadcast)', async () => {
    const [update] = await sql.query("UPDATE conference_broadcast SET dash = 1 WHERE name = 'talk'");
    expect(update).toMatchObject({ affectedRows: 1 });
    await eventually(async () => expect((await get('/hls/0/talk/index.mpd')).status).toBe(200), 20_000);
    await eventually(async () => {
      const [rows] = await sql.query("SELECT outputs FROM conference_broadcast WHERE name = 'talk'");
      expect(rows).toEqual([{ outputs: 'hls:running,dash:running' }]);
    });
    // Low latency: the same playlist URL now has parts, served from memory; DASH stays.
    await sql.query("UPDATE conference_broadcast SET ll_hls = 1 WHERE name = 'talk'");
    await eventually(async () => expect(await (await get('/hls/0/talk/index.m3u8')).text()).toContain('#EXT-X-PART:'), 20_000);
    await eventually(async () => expect((await get('/hls/0/talk/index.mpd')).status).toBe(200), 20_000);
    await eventually(async () => {
      const [rows] = await sql.query("SELECT ll_hls, outputs, hls_url, dash_url FROM conference_broadcast WHERE name = 'talk'");
      expect(rows).toEqual([{ ll_hls: '1', outputs: 'll-hls:running,dash:running', hls_url: '/hls/0/talk/index.m3u8', dash_url: '/hls/0/talk/index.mpd' }]);
    });
    // A recording: the row names the file being written, its template filled in. The broadcast restarts
    // with it, and its LL-HLS goes on: the same numbering, after a discontinuity.
    const sequence = async (): Promise<number> => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(await (await get('/hls/0/talk/index.m3u8')).text())![1]);
    const before = await sequence();
    await sql.query(`UPDATE conference_broadcast SET record = '${dir}/rec/\${conference_name}-\${time}.mp4' WHERE name = 'talk'`);
    await eventually(async () => {
      const [rows] = (await sql.query("SELECT record, record_file FROM conference_broadcast WHERE name = 'talk'")) as [{ record: string; record_file: string }[], unknown];
      expect(rows[0]!.record).toBe(`${dir}/rec/\${conference_name}-\${time}.mp4`);
      expect(rows[0]!.record_file).toMatch(new RegExp(`^${dir}/rec/talk-\\d{8}-\\d{6}\\.mp4$`));
      expect(existsSync(rows[0]!.record_file)).toBe(true);
    });
    await eventually(async () => expect(await (await get('/hls/0/talk/index.m3u8')).text()).toMatch(/#EXT-X-DISCONTINUITY\n#EXT-X-MAP/), 15_000);
    expect(await sequence()).toBeGreaterThanOrEqual(before);
    expect(await sequence()).toBeLessThan(before + 30);
    const [deleted] = await sql.query("DELETE FROM conference_broadcast WHERE name = 'talk'");
    expect(deleted).toMatchObject({ affectedRows: 1 });
    await eventually(async () => expect((await sql.query("SELECT * FROM conference_broadcast WHERE name = 'talk'"))[0]).toEqual([]));
    await eventually(() => expect(server.mixer!.stats().videoEncoders).toBe(1));
  }, 60_000);
});
