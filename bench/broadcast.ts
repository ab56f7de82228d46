import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BoxSplitter, parseFragment, parseInit, type TrackInfo } from '../mixer/broadcast/fmp4.js';
import { Nginx } from '../test/helpers/nginx.js';
import { freePort, startMediaServer, type TestServer } from '../test/helpers/server.js';
import { BrowserFleet, sleep } from '../test/mixer/harness.js';
import { rgbName } from '../test/mixer/signals.js';
import { ViewerPage } from '../test/mixer/viewerPage.js';
import { percentile, printTable, serverCpuSeconds, writeResult } from './lib.js';

/**
 * Glass-to-glass latency of a broadcast for a viewer, and the CPU a broadcast adds. Member 1's camera flips
 * its colour at random moments, and two kinds of viewer look for the flip:
 * - a reader at the live edge: it polls the playlist (LL-HLS: blocking reloads for the next part), fetches
 *   each new segment or part as soon as it is listed and decodes it. Latency = when the flipped frame's
 *   segment or part was listed, plus the frame's offset into it, minus the moment of the flip. This is the
 *   least any player could have;
 * - a real player: examples/web/viewer.html (hls.js) in headless Chromium, noting when each frame it shows
 *   was presented. This includes the player's own distance from the live edge (its hold-back).
 * Measured for the embedded HLS, the embedded LL-HLS and nginx-rtmp's HLS (fed by our RTMP push, served by
 * nginx's HTTP), in the same run.
 */

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-bench-broadcast-'));
const CANVAS = { width: 640, height: 360 };
const FPS = 15;
const MEASURE_SECONDS = 45;

interface Flip {
  at: number;
  colour: string;
}

/** Frames decoded for the look-up below: 16x9 RGB. */
const TINY = ['-vf', 'scale=16:9', '-f', 'rawvideo', '-pix_fmt', 'rgb24'];
const TINY_FRAME_BYTES = 16 * 9 * 3;

/** The colour of member 1's tile (the left half of a grid of 2) in each of these tiny frames. */
function leftTileColours(frames: Buffer): string[] {
  const colours: string[] = [];
  for (let i = 0; (i + 1) * TINY_FRAME_BYTES <= frames.length; i++) {
    const pixel = (2 * 16 + 4) * 3 + i * TINY_FRAME_BYTES; // row 2, column 4: inside the left tile
    colours.push(rgbName([frames[pixel]!, frames[pixel + 1]!, frames[pixel + 2]!]));
  }
  return colours;
}

/** Colours of member 1's tile in every frame of a segment, with their times into it. */
async function tileColoursOf(segment: string): Promise<{ offset: number; colour: string }[]> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', '-i', segment, ...TINY, '-'], { encoding: 'buffer', maxBuffer: 16 << 20 });
  return leftTileColours(stdout as unknown as Buffer).map((colour, i) => ({ offset: i / FPS, colour }));
}

/**
 * Plays a live HLS playlist from its live edge for `seconds`: each newly listed segment is read at once.
 * Returns when (Date.now()) each colour change became visible.
 */
async function watch(readPlaylist: () => Promise<string | null>, segmentUrl: (name: string) => string, seconds: number): Promise<Flip[]> {
  const seen = new Set<string>();
  const visible: Flip[] = [];
  let last = '';
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const playlist = await readPlaylist();
    const segments = playlist?.split('\n').filter((line) => line && !line.startsWith('#')) ?? [];
    const listedAt = Date.now();
    // From the live edge: only the newest segment the first time, then every new one.
    const fresh = seen.size === 0 ? segments.slice(-1) : segments.filter((name) => !seen.has(name));
    for (const name of segments) seen.add(name);
    for (const name of fresh) {
      for (const { offset, colour } of await tileColoursOf(segmentUrl(name)).catch(() => [])) {
        if (colour !== last) visible.push({ at: listedAt + offset * 1000, colour });
        last = colour;
      }
    }
    await sleep(100);
  }
  return visible;
}

/**
 * Plays a low-latency HLS playlist from its live edge for `seconds`, as hls.js does but without holding
 * back: blocking reloads ask for the hinted next part, and every part is fetched and decoded as soon as it
 * is listed. One FFmpeg decodes the whole stream; each decoded frame is matched to its part by counting.
 */
async function watchLowLatency(base: string, seconds: number): Promise<Flip[]> {
  const decoder = spawn('ffmpeg', ['-v', 'error', '-f', 'mp4', '-i', 'pipe:0', '-map', '0:v', '-fps_mode', 'passthrough', ...TINY, 'pipe:1'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const output: Buffer[] = [];
  decoder.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  decoder.stdin.on('error', () => {});
  const frameTimes: number[] = [];
  const fed = new Set<string>();
  let tracks: Map<number, TrackInfo> | undefined;
  let hint = '';
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const [, msn, part] = /part-(\d+)\.(\d+)\.m4s/.exec(hint) ?? [];
    const response = await fetch(msn ? `${base}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}` : `${base}/index.m3u8`).catch(() => null);
    const listedAt = Date.now();
    const playlist = response?.ok ? await response.text() : '';
    hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(playlist)?.[1] ?? '';
    if (!hint) {
      await sleep(100);
      continue;
    }
    const listed = [...playlist.matchAll(/#EXT-X-PART:DURATION=[\d.]+,URI="([^"]+)"(,INDEPENDENT=YES)?/g)];
    if (!tracks) {
      // From the live edge: the newest part a decoder can start with.
      const start = listed.findLastIndex((entry) => entry[2] !== undefined);
      if (start < 0) continue;
      for (const entry of listed.slice(0, start)) fed.add(entry[1]!);
      const init = Buffer.from(await (await fetch(`${base}/${/#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)![1]}`)).arrayBuffer());
      tracks = parseInit(new BoxSplitter().push(init).find((box) => box.type === 'moov')!.bytes);
      decoder.stdin.write(init);
    }
    const video = [...tracks.values()].find((track) => track.kind === 'video')!;
    for (const [, uri] of listed.filter((entry) => !fed.has(entry[1]!))) {
      fed.add(uri!);
      const bytes = Buffer.from(await (await fetch(`${base}/${uri}`)).arrayBuffer());
      const frames = new BoxSplitter().push(bytes).filter((box) => box.type === 'moof').flatMap((box) => parseFragment(box.bytes, tracks!)).filter((sample) => sample.trackId === video.id);
      frames.forEach((_, i) => frameTimes.push(listedAt + (i * 1000) / FPS));
      decoder.stdin.write(bytes);
    }
  }
  decoder.stdin.end();
  await once(decoder, 'exit');
  const visible: Flip[] = [];
  leftTileColours(Buffer.concat(output)).forEach((colour, i) => {
    if (i < frameTimes.length && colour !== visible.at(-1)?.colour) visible.push({ at: frameTimes[i]!, colour });
  });
  return visible;
}

function latencies(flips: Flip[], visible: Flip[]): number[] {
  const out: number[] = [];
  for (const flip of flips) {
    const shown = visible.find((change) => change.colour === flip.colour && change.at >= flip.at);
    if (shown && shown.at - flip.at < 30_000) out.push((shown.at - flip.at) / 1000);
  }
  return out;
}

function profiles(nginx: Nginx): string {
  const file = join(dir, 'profiles.ini');
  const base = `media = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${FPS}\ncodec = VP8\nbitrate = 500\nlayout = grid\nmax_members = 16\nopen = true\n`;
  writeFileSync(file, `[plain]\n${base}\n[show]\n${base}rtmp = rtmp://127.0.0.1:${nginx.rtmpPort}/live/\${conference_name}\nhls = on\n\n[fast]\n${base}ll_hls = on\n`);
  return file;
}

/** The server's CPU per second of wall time over the next `seconds`. */
async function cpuPerSecond(server: TestServer, seconds: number): Promise<number> {
  const before = serverCpuSeconds(server.mixer!);
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  return (serverCpuSeconds(server.mixer!) - before) / ((performance.now() - startedAt) / 1000);
}

/** One room with two members; member 1's camera flips. */
async function conference(server: TestServer, fleet: BrowserFleet, room: string): Promise<void> {
  const world = { model: server.model, mixer: server.mixer! };
  await fleet.join(world, { userId: 1, colour: 'red', tone: 400, room, profile: room, source: 'flip', decode: false });
  await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, room, profile: room, source: 'replay', decode: false });
}

async function leave(server: TestServer, fleet: BrowserFleet, room: string): Promise<void> {
  for (const userId of [1, 2]) {
    await server.model.leave(0, room, userId, 'hangup');
    await fleet.call('close', userId);
  }
}

/** A viewer page playing `what`, noting every frame it shows. */
async function player(server: TestServer, what: { room: string } | { src: string }): Promise<ViewerPage> {
  const page = await ViewerPage.open(server.httpPort, what);
  await page.sampleLeftTile();
  return page;
}

interface Measured {
  latency_s: number;
  latency_p95_s: number;
  flips: number;
  /** hls.js in Chromium. */
  player_latency_s: number | null;
  player_latency_p95_s: number | null;
  player_flips: number;
}

function summary(reader: number[], viewer: number[]): Measured | null {
  if (reader.length === 0) return null;
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const [r, v] = [sorted(reader), sorted(viewer)];
  return {
    latency_s: round(percentile(r, 50)),
    latency_p95_s: round(percentile(r, 95)),
    flips: r.length,
    player_latency_s: v.length ? round(percentile(v, 50)) : null,
    player_latency_p95_s: v.length ? round(percentile(v, 95)) : null,
    player_flips: v.length,
  };
}

/** Readers and players watch a broadcasting room for MEASURE_SECONDS; the flips they saw, as latencies. */
async function measure(fleet: BrowserFleet, watchers: { reader: () => Promise<Flip[]>; page: ViewerPage }[]): Promise<(Measured | null)[]> {
  const from = Date.now();
  const seen = await Promise.all(watchers.map((watcher) => watcher.reader()));
  const shown = await Promise.all(watchers.map((watcher) => watcher.page.leftTileChanges()));
  // Flips of the last 10 s may not have reached the viewers yet.
  const flips = (await fleet.call('flips', 1)).filter((flip) => flip.at >= from && flip.at <= Date.now() - 10_000);
  await Promise.all(watchers.map((watcher) => watcher.page.close()));
  return watchers.map((_, i) => summary(latencies(flips, seen[i]!), latencies(flips, shown[i]!.filter((change) => change.at >= from))));
}

export async function benchBroadcast(): Promise<unknown> {
  const nginx = Nginx.forTests(dir, await freePort(), { httpPort: await freePort() });
  await nginx.start();
  const server = await startMediaServer(profiles(nginx), join(dir, 'data'));

  const fleet = new BrowserFleet(0, CANVAS, FPS);
  try {
    // The conference alone, then the same conference broadcast: the difference is what a broadcast costs.
    // Nobody watches while the CPU is measured.
    await conference(server, fleet, 'plain');
    await sleep(3000);
    const plainCpu = await cpuPerSecond(server, 10);
    await leave(server, fleet, 'plain');

    // HLS written by FFmpeg and RTMP to nginx, watched side by side.
    await conference(server, fleet, 'show');
    await sleep(4000);
    const showCpu = await cpuPerSecond(server, 10);
    const base = `http://127.0.0.1:${server.httpPort}/hls/0/show`;
    const nginxPlaylist = join(nginx.hlsDir, 'show.m3u8');
    const [embedded, viaNginx] = await measure(fleet, [
      {
        reader: () => watch(async () => (await fetch(`${base}/index.m3u8`)).text().catch(() => null), (name) => `${base}/${name}`, MEASURE_SECONDS),
        page: await player(server, { room: 'show' }),
      },
      {
        reader: () => watch(async () => (existsSync(nginxPlaylist) ? readFileSync(nginxPlaylist, 'utf8') : null), (name) => join(nginx.hlsDir, name), MEASURE_SECONDS),
        page: await player(server, { src: `http://127.0.0.1:${nginx.httpPort}/hls/show.m3u8` }),
      },
    ]);
    await leave(server, fleet, 'show');

    // Low-latency HLS, packaged by the server.
    await conference(server, fleet, 'fast');
    await sleep(4000);
    const fastCpu = await cpuPerSecond(server, 10);
    const [lowLatency] = await measure(fleet, [{ reader: () => watchLowLatency(`http://127.0.0.1:${server.httpPort}/hls/0/fast`, MEASURE_SECONDS), page: await player(server, { room: 'fast' }) }]);
    await leave(server, fleet, 'fast');

    const result = {
      embedded_hls: embedded,
      ll_hls: lowLatency ? { ...lowLatency, cpu_added_per_media_s: round(fastCpu - plainCpu) } : null,
      nginx_hls: viaNginx,
      cpu_added_per_media_s: round(showCpu - plainCpu),
      setup: { members: 2, canvas: `${CANVAS.width}x${CANVAS.height}`, fps: FPS, segment_s: 1, part_s: 0.2, measured_s: MEASURE_SECONDS, broadcast_cpu_outputs: 'RTMP push + HLS' },
    };
    const file = writeResult('broadcast', result);
    const row = (name: string, m: Measured | null): (string | number)[] => [name, m?.latency_s ?? '-', m?.latency_p95_s ?? '-', m?.player_latency_s ?? '-', m?.player_latency_p95_s ?? '-', `${m?.flips ?? 0}/${m?.player_flips ?? 0}`];
    printTable(
      ['output', 'live-edge reader p50 s', 'p95 s', 'hls.js p50 s', 'p95 s', 'flips seen'],
      [row('embedded HLS', embedded ?? null), row('embedded LL-HLS', lowLatency ?? null), row('nginx-rtmp HLS', viaNginx ?? null)],
    );
    console.log(`CPU added: ${result.cpu_added_per_media_s} CPU-s per media-s (RTMP push + HLS), ${result.ll_hls?.cpu_added_per_media_s ?? '-'} (LL-HLS)   → ${file}`);
    return result;
  } finally {
    await fleet.close();
    await server.close();
    await nginx.stop();
  }
}

const round = (value: number): number => Math.round(value * 100) / 100;

if (import.meta.url === `file://${process.argv[1]}`) {
  benchBroadcast().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
