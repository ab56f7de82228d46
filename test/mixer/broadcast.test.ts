import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Nginx } from '../helpers/nginx.js';
import { freePort, startMediaServer, type TestServer } from '../helpers/server.js';
import { broadcastEncoderPid, BrowserFleet, CANVAS, eventually, FPS, sleep, type Conferencing } from './harness.js';
import { decode, expectBothMembers, expectBothMembersInHls } from './mediaFiles.js';
import { ViewerPage } from './viewerPage.js';

/**
 * Broadcasting a conference of two synthetic members (red 400 Hz, blue 600 Hz): pushed over RTMP to a real
 * nginx with libnginx-mod-rtmp writing HLS, the server's own HLS and DASH, and a recording. The media that
 * comes out is decoded and checked: both colours in their tiles, both tones in the sound.
 */

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-broadcast-'));

describe('broadcast: RTMP to nginx, embedded HLS and DASH, recording', () => {
  let server: TestServer;
  let world: Conferencing;
  let nginx: Nginx;
  const fleet = new BrowserFleet(0, CANVAS, FPS);
  const recordDir = join(dir, 'records');
  /** When the room began (its first member joined): the recording starts then. */
  let startedAt = 0;

  beforeAll(async () => {
    nginx = Nginx.forTests(dir, await freePort());
    await nginx.start();
    const profiles = join(dir, 'profiles.ini');
    writeFileSync(
      profiles,
      `[show]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${FPS}\ncodec = VP8\nbitrate = 500\nlayout = grid\nmax_members = 16\nopen = true\n` +
        `rtmp = rtmp://127.0.0.1:${nginx.rtmpPort}/live/\${conference_name}\nhls = on\ndash = on\nrecord = ${recordDir}/\${conference_name}-\${time}.mp4\n`,
    );
    server = await startMediaServer(profiles, join(dir, 'data'), { COMET_HTTP_METRICS_ROOMS: 'true' });
    world = { model: server.model, mixer: server.mixer! };
    const first = await fleet.offer({ userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'show', profile: 'show' });
    startedAt = Date.now();
    await fleet.connect(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'show', profile: 'show' }, first);
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, volume: 0.3, room: 'show', profile: 'show' });
  }, 60_000);

  afterAll(async () => {
    await fleet.close();
    await server?.close();
    await nginx?.stop();
  });

  it('pushes to nginx-rtmp, whose HLS shows both members and plays both tones', async () => {
    await expectBothMembersInHls(join(nginx.hlsDir, 'show.m3u8'));
    // The broadcast encoder is one more view.
    expect(server.mixer!.stats().videoEncoders).toBe(2);
  });

  it('serves its own HLS and DASH with both members, and counts the viewers', async () => {
    const base = `http://127.0.0.1:${server.httpPort}/hls/0/show`;
    await expectBothMembersInHls(`${base}/index.m3u8`, 20_000);
    await eventually(async () => expectBothMembers(await decode(`${base}/index.mpd`)), 30_000);
    // A room that does not broadcast: refused as a private one would be, and nobody counted (no label per made-up name).
    expect((await fetch(`http://127.0.0.1:${server.httpPort}/hls/0/made-up/index.m3u8`)).status).toBe(403);
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    // This test's reads and FFmpeg's, all from one address: one viewer per session cookie kept (FFmpeg keeps
    // them), and one for the requests without.
    expect(metrics).toMatch(/cometmcu_hls_viewers\{room="0\*show"\} [1-9]\n/);
    expect(metrics).not.toContain('made-up');
  }, 60_000);

  it('plays in the viewer page (hls.js) in Chromium, showing both members', async () => {
    const viewer = await ViewerPage.open(server.httpPort, { room: 'show' });
    try {
      // The player starts a few segments behind the live edge; the first of them may be from before the
      // members' first pictures arrived.
      await eventually(async () => expect(await viewer.tileColours()).toEqual(['red', 'blue']), 30_000);
    } finally {
      await viewer.close();
    }
  }, 60_000);

  it('resumes the RTMP push after nginx is away for 5 s, and the conference never stalls', async () => {
    const playlist = join(nginx.hlsDir, 'show.m3u8');
    await nginx.stop();
    const from = Date.now();
    await sleep(5000);
    const restartedAt = Date.now();
    await nginx.start();
    await sleep(3000);
    // The members' video went on meanwhile (measured: about 0.1 s; a stall would be seconds).
    for (const userId of [1, 2]) {
      const { longestGap } = await fleet.call('frames', userId, from, Date.now());
      console.log(`member ${userId}: longest frame gap while nginx was away: ${longestGap} ms`);
      expect(longestGap, `member ${userId}`).toBeLessThanOrEqual(500);
    }
    // nginx receives the push again: new segments, with both members.
    await eventually(() => {
      const fresh = readdirSync(nginx.hlsDir).filter((file) => file.endsWith('.ts'));
      expect(fresh.length).toBeGreaterThan(0);
      expect(readFileSync(playlist, 'utf8')).toContain('.ts');
    }, 15_000);
    await expectBothMembersInHls(playlist, 15_000);
    const rtmp = server.mixer!.stats().perRoom[0]!.broadcast.find((output) => output.kind === 'rtmp')!;
    expect(rtmp.restarts).toBeGreaterThan(0);
    expect(restartedAt).toBeGreaterThan(from);
  }, 60_000);

  it('restarts its encoder when it dies, and every output goes on', async () => {
    const killed = broadcastEncoderPid(server.mixer!)!;
    process.kill(killed, 'SIGKILL');
    const killedAt = Date.now();
    await eventually(() => expect(broadcastEncoderPid(server.mixer!)).not.toBeOneOf([undefined, killed]), 5000);
    // Segments written after the restart, by nginx and by the server, still show both members.
    for (const [folder, playlist] of [[nginx.hlsDir, 'show.m3u8'], [join(dir, 'data', 'hls', '0', 'show'), 'index.m3u8']] as const) {
      await eventually(async () => {
        const segment = join(folder, readFileSync(join(folder, playlist), 'utf8').split('\n').filter((line) => line && !line.startsWith('#')).at(-1)!);
        expect(statSync(segment).mtimeMs).toBeGreaterThan(killedAt + 1000);
        expectBothMembers(await decode(segment));
      }, 15_000);
    }
  }, 40_000);

  it('records a playable file as long as the conference', async () => {
    await world.model.leave(0, 'show', 1, 'hangup');
    await world.model.leave(0, 'show', 2, 'hangup');
    await eventually(() => expect(server.mixer!.stats().rooms).toBe(0), 15_000);
    const [file] = readdirSync(recordDir).filter((name) => /^show-\d{8}-\d{6}\.mp4$/.test(name));
    expect(file).toBeDefined();
    const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', join(recordDir, file!)]);
    const duration = Number(stdout.trim());
    // The mix is mono, and the file says so (an MP4 header written before the first AAC packet said stereo).
    const channels = await exec('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=channels', '-of', 'csv=p=0', join(recordDir, file!)]);
    expect(channels.stdout.trim()).toBe('1');
    const conference = (Date.now() - startedAt) / 1000;
    console.log(`recording: ${duration.toFixed(1)} s for a conference of ${conference.toFixed(1)} s`);
    // The conference is measured from the first member's WebRTC set-up to the room's close, both of which
    // lie outside the recording.
    expect(duration).toBeGreaterThan(conference - 2);
    expect(duration).toBeLessThanOrEqual(conference + 0.5);
    // From 10 s in: at its very start the members' first pictures had not arrived yet.
    expectBothMembers(await decode(join(recordDir, file!), 10));
  }, 30_000);
});
