import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, startMediaServer, type TestServer } from '../helpers/server.js';
import { BrowserFleet, eventually, FPS, type Conferencing } from './harness.js';
import { expectTones, readSound, saveNewestLowLatencySegment } from './mediaFiles.js';

/**
 * An audio-only room with a broadcast: its sound alone goes out (AAC, no video stream), in the embedded
 * HLS, the recording and low-latency HLS, with both members' tones in it.
 */

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-broadcast-audio-'));

/** The kinds of stream in a media file or URL ("audio", "video"), each once (MPEG-TS lists them per program too). */
async function streamKinds(input: string): Promise<string[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', input]);
  return [...new Set(stdout.split('\n').map((line) => line.trim()).filter(Boolean))];
}

describe('broadcast of an audio-only room', () => {
  let server: TestServer;
  let world: Conferencing;
  const fleet = new BrowserFleet();
  const recordDir = join(dir, 'records');

  beforeAll(async () => {
    const profiles = join(dir, 'profiles.ini');
    writeFileSync(
      profiles,
      `[radio]\nmedia = audio\ncanvas = 640x360\nfps = ${FPS}\ncodec = VP8\nbitrate = 0\nlayout = grid\nmax_members = 16\nopen = true\n` +
        `hls = on\nrecord = ${recordDir}/\${conference_name}.mp4\n`,
    );
    server = await startMediaServer(profiles, join(dir, 'data'));
    world = { model: server.model, mixer: server.mixer! };
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'show', profile: 'radio', video: false });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, volume: 0.3, room: 'show', profile: 'radio', video: false });
  }, 60_000);

  afterAll(async () => {
    await fleet.close();
    await server?.close();
  });

  it('serves its sound alone over HLS, both tones in it, with no video encoder', async () => {
    const base = `http://127.0.0.1:${server.httpPort}/hls/0/show`;
    await eventually(async () => {
      const playlist = await (await fetch(`${base}/index.m3u8`)).text();
      const segment = `${base}/${playlist.split('\n').filter((line) => line && !line.startsWith('#')).at(-1)}`;
      expect(await streamKinds(segment)).toEqual(['audio']);
      expectTones(await readSound(segment, { seconds: 2 }), [400, 600]);
    }, 20_000);
    expect(server.mixer!.stats().videoEncoders).toBe(0);
  }, 60_000);

  it('records the sound to a playable file', async () => {
    await world.model.leave(0, 'show', 1, 'hangup');
    await world.model.leave(0, 'show', 2, 'hangup');
    await eventually(() => expect(server.mixer!.stats().rooms).toBe(0), 15_000);
    const file = join(recordDir, 'show.mp4');
    expect(readdirSync(recordDir)).toEqual(['show.mp4']);
    expect(await streamKinds(file)).toEqual(['audio']);
    expectTones(await readSound(file, { seek: 1, seconds: 2 }), [400, 600]);
  }, 30_000);

  it('serves its sound alone as low-latency HLS, parts of whole AAC frames', async () => {
    const sql = await connect(server);
    await sql.query("INSERT INTO conference_broadcast (name, ll_hls) VALUES ('talk', 1)");
    await sql.end();
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'talk', profile: 'radio', video: false });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, volume: 0.3, room: 'talk', profile: 'radio', video: false });
    const base = `http://127.0.0.1:${server.httpPort}/hls/0/talk`;
    const file = join(dir, 'talk.mp4');
    await eventually(async () => {
      // 10 AAC frames of 1024 samples at 48 kHz (0.21333 s), rounded up.
      expect(await saveNewestLowLatencySegment(base, file)).toContain('#EXT-X-PART-INF:PART-TARGET=0.214');
      expect(await streamKinds(file)).toEqual(['audio']);
      expectTones(await readSound(file), [400, 600]);
    }, 20_000);
  }, 40_000);
});
