import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { connect, startMediaServer, type TestServer } from '../helpers/server.js';
import { broadcastEncoderPid, BrowserFleet, CANVAS, eventually, FPS, type Conferencing } from './harness.js';
import { decode, expectBothMembers, saveNewestLowLatencySegment } from './mediaFiles.js';
import { ViewerPage } from './viewerPage.js';

/**
 * A conference of two synthetic members (red 400 Hz, blue 600 Hz) broadcast as low-latency HLS from the
 * server's memory: the playlist has parts and blocks until the part asked for exists, the media decodes to
 * both members, and hls.js in Chromium plays it in low-latency mode, close to the live edge.
 */

const dir = mkdtempSync(join(tmpdir(), 'cometmcu-llhls-e2e-'));

describe('broadcast: low-latency HLS', () => {
  let server: TestServer;
  let world: Conferencing;
  let sql: Connection;
  const fleet = new BrowserFleet(0, CANVAS, FPS);
  let base = '';

  beforeAll(async () => {
    const profiles = join(dir, 'profiles.ini');
    writeFileSync(profiles, `[live]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${FPS}\ncodec = VP8\nbitrate = 500\nlayout = grid\nmax_members = 16\nopen = true\nll_hls = on\n`);
    server = await startMediaServer(profiles, join(dir, 'data'));
    world = { model: server.model, mixer: server.mixer! };
    base = `http://127.0.0.1:${server.httpPort}/hls/0/live`;
    sql = await connect(server);
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'live', profile: 'live' });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, volume: 0.3, room: 'live', profile: 'live' });
  }, 60_000);

  afterAll(async () => {
    await sql?.end();
    await fleet.close();
    await server?.close();
  });

  it('lists parts and segments whose media shows both members and plays both tones', async () => {
    const file = join(dir, 'segment.mp4');
    await eventually(async () => {
      const playlist = await saveNewestLowLatencySegment(base, file);
      expect(playlist).toContain('#EXT-X-PART-INF:PART-TARGET=0.200');
      expect(playlist).toMatch(/#EXT-X-PART:DURATION=0\.200,URI="part-\d+\.0\.m4s",INDEPENDENT=YES/);
      expectBothMembers(await decode(file));
    }, 20_000);
  }, 30_000);

  it('holds a blocking playlist reload until the next part exists, then answers with it', async () => {
    const playlist = await (await fetch(`${base}/index.m3u8`)).text();
    const [, msn, part] = /PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(playlist)!;
    const started = performance.now();
    const [reload, hinted] = await Promise.all([
      fetch(`${base}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`),
      fetch(`${base}/part-${msn}.${part}.m4s`),
    ]);
    const waited = performance.now() - started;
    expect(reload.status).toBe(200);
    expect(await reload.text()).toContain(`URI="part-${msn}.${part}.m4s"`);
    expect(hinted.status).toBe(200);
    expect((await hinted.arrayBuffer()).byteLength).toBeGreaterThan(0);
    // At most one part (0.2 s) away, plus the pipeline's jitter.
    expect(waited).toBeLessThan(1000);
    expect((await fetch(`${base}/index.m3u8?_HLS_msn=x`)).status).toBe(400);
    expect((await fetch(`${base}/index.m3u8?_HLS_msn=${Number(msn) + 100}&_HLS_part=0`)).status).toBe(400);
  });

  it('shows in conference_broadcast as a running ll-hls output', async () => {
    const [rows] = await sql.query('SELECT name, hls, ll_hls, outputs, hls_url FROM conference_broadcast');
    expect(rows).toEqual([{ name: 'live', hls: '0', ll_hls: '1', outputs: 'll-hls:running', hls_url: '/hls/0/live/index.m3u8' }]);
  });

  it('plays in the viewer page (hls.js, low-latency mode) within 2 s of the live edge', async () => {
    const viewer = await ViewerPage.open(server.httpPort, { room: 'live' });
    try {
      await eventually(async () => expect(await viewer.tileColours()).toEqual(['red', 'blue']), 20_000);
      // hls.js settles on its target latency (PART-HOLD-BACK) within a few seconds of starting.
      await eventually(async () => {
        const player = await viewer.player();
        console.log(`hls.js: ${player.latency?.toFixed(2)} s behind the live edge, ${player.parts} parts listed`);
        expect(player.blockingReload).toBe(true);
        expect(player.parts).toBeGreaterThan(0);
        expect(player.latency).not.toBeNull();
        expect(player.latency!).toBeLessThan(2);
      }, 10_000);
    } finally {
      await viewer.close();
    }
  }, 40_000);

  it('goes on after a discontinuity when its encoder dies, with a new init segment', async () => {
    const encoder = broadcastEncoderPid(server.mixer!)!;
    const before = [...(await (await fetch(`${base}/index.m3u8`)).text()).matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].map((match) => match[1]);
    process.kill(encoder, 'SIGKILL');
    const file = join(dir, 'after-restart.mp4');
    await eventually(async () => {
      const playlist = await saveNewestLowLatencySegment(base, file);
      expect(playlist).toMatch(/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-\d+\.mp4"\n/);
      const after = [...playlist.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].map((match) => match[1]).at(-1);
      expect(before).not.toContain(after);
      // Whatever came before the restart, no segment may outgrow the target duration (1 s).
      for (const [, duration] of playlist.matchAll(/#EXTINF:([\d.]+),/g)) expect(Number(duration)).toBeLessThan(1.5);
      expectBothMembers(await decode(file));
    }, 20_000);
  }, 30_000);

  it('ends the playlist when the conference ends, and still serves it a while', async () => {
    const playlist = await (await fetch(`${base}/index.m3u8`)).text();
    const [, msn, part] = /PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(playlist)!;
    // A player waiting for a part far ahead of what the broadcast will ever make.
    const waiting = fetch(`${base}/index.m3u8?_HLS_msn=${Number(msn) + 2}&_HLS_part=${part}`);
    await world.model.leave(0, 'live', 1, 'hangup');
    await world.model.leave(0, 'live', 2, 'hangup');
    const final = await waiting;
    expect(final.status).toBe(200);
    expect(await final.text()).toMatch(/#EXT-X-ENDLIST\n$/);
    await eventually(() => expect(server.mixer!.stats().rooms).toBe(0), 15_000);
    const after = await fetch(`${base}/index.m3u8`);
    expect(after.status).toBe(200);
    const text = await after.text();
    expect(text).toMatch(/#EXT-X-ENDLIST\n$/);
    expect(text).not.toContain('PRELOAD-HINT');
    const lastSegment = [...text.matchAll(/^(segment-\d+\.m4s)$/gm)].at(-1)![1];
    expect((await fetch(`${base}/${lastSegment}`)).status).toBe(200);
  }, 30_000);
});
