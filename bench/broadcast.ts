import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { processCpuSeconds } from '../src/procStat.js';
import { Nginx } from '../test/helpers/nginx.js';
import { freePort, startTestServer, type TestServer } from '../test/helpers/server.js';
import { BrowserFleet, sleep } from '../test/mixer/harness.js';
import { nearestName, PALETTE } from '../test/mixer/signals.js';
import { percentile, printTable, writeResult } from './lib.js';

/**
 * Glass-to-glass latency of a broadcast for a viewer, and the CPU a broadcast adds. Member 1's camera flips
 * its colour at random moments; a player reading from the live edge polls the playlist, fetches each new
 * segment as soon as it is listed and looks for the flip in its frames. Latency = the flip's time in the
 * segment (when it was listed, plus the flipped frame's offset into it) minus the moment of the flip.
 * Measured for the embedded HLS and for nginx-rtmp's HLS fed by our RTMP push, in the same run.
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

/** Colours of member 1's tile (the left half of a grid of 2) in every frame of a segment, with times. */
async function tileColoursOf(segment: string): Promise<{ offset: number; colour: string }[]> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', '-i', segment, '-vf', 'scale=16:9', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 16 << 20 });
  const frames = stdout as unknown as Buffer;
  const frameBytes = 16 * 9 * 3;
  const candidates = [...Object.entries(PALETTE), ['black', [0, 0, 0]], ['placeholder', [60, 60, 60]]] as [string, number[]][];
  const colours: { offset: number; colour: string }[] = [];
  for (let i = 0; i * frameBytes < frames.length; i++) {
    const pixel = (2 * 16 + 4) * 3 + i * frameBytes; // row 2, column 4: inside the left tile
    colours.push({ offset: i / FPS, colour: nearestName([frames[pixel]!, frames[pixel + 1]!, frames[pixel + 2]!], candidates) });
  }
  return colours;
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
  writeFileSync(file, `[plain]\n${base}\n[show]\n${base}rtmp = rtmp://127.0.0.1:${nginx.rtmpPort}/live/\${conference_name}\nhls = on\n`);
  return file;
}

/** CPU seconds of this process (the server) and of the server's FFmpeg children, now. */
function serverCpu(server: TestServer): Map<number | 'node', number> {
  const usage = process.cpuUsage();
  const sample = new Map<number | 'node', number>([['node', (usage.user + usage.system) / 1e6]]);
  for (const pids of server.mixer!.ffmpegPids().values()) {
    for (const pid of [...pids.encoders, ...pids.decoders]) sample.set(pid, processCpuSeconds(pid) ?? 0);
  }
  return sample;
}

async function cpuPerSecond(server: TestServer, seconds: number): Promise<number> {
  const before = serverCpu(server);
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  const after = serverCpu(server);
  let used = 0;
  for (const [key, cpu] of after) used += cpu - (before.get(key) ?? 0);
  return used / ((performance.now() - startedAt) / 1000);
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

export async function benchBroadcast(): Promise<unknown> {
  const nginx = new Nginx(dir, await freePort());
  await nginx.start();
  const server = await startTestServer({
    COMET_CONFERENCE_PROFILES: profiles(nginx),
    COMET_BROADCAST_DATA_DIR: join(dir, 'data'),
    COMET_MEDIA_ADDRESSES: '127.0.0.1',
    COMET_MEDIA_ADDRESSES_ONLY: 'true',
  });
  const fleet = new BrowserFleet(0, CANVAS, FPS);
  try {
    // The conference alone, then the same conference broadcast: the difference is what a broadcast costs.
    await conference(server, fleet, 'plain');
    await sleep(3000);
    const plainCpu = await cpuPerSecond(server, 10);
    await leave(server, fleet, 'plain');

    await conference(server, fleet, 'show');
    await sleep(4000);
    const showCpu = await cpuPerSecond(server, 10);
    const base = `http://127.0.0.1:${server.httpPort}/hls/0/show`;
    const nginxPlaylist = join(nginx.hlsDir, 'show.m3u8');
    const from = Date.now();
    const [embedded, viaNginx] = await Promise.all([
      watch(async () => (await fetch(`${base}/index.m3u8`)).text().catch(() => null), (name) => `${base}/${name}`, MEASURE_SECONDS),
      watch(async () => (existsSync(nginxPlaylist) ? readFileSync(nginxPlaylist, 'utf8') : null), (name) => join(nginx.hlsDir, name), MEASURE_SECONDS),
    ]);
    const flips = (await fleet.call('flips', 1)).filter((flip) => flip.at >= from && flip.at <= Date.now() - 10_000);
    await leave(server, fleet, 'show');

    const summary = (values: number[]) => (values.length ? { latency_s: round(percentile(values.sort((a, b) => a - b), 50)), latency_p95_s: round(percentile(values, 95)), flips: values.length } : null);
    const result = {
      embedded_hls: summary(latencies(flips, embedded)),
      ll_hls: null,
      nginx_hls: summary(latencies(flips, viaNginx)),
      cpu_added_per_media_s: round(showCpu - plainCpu),
      setup: { members: 2, canvas: `${CANVAS.width}x${CANVAS.height}`, fps: FPS, segment_s: 1, measured_s: MEASURE_SECONDS, flips: flips.length },
    };
    const file = writeResult('broadcast', result);
    printTable(
      ['output', 'latency p50 s', 'p95 s', 'flips seen'],
      [
        ['embedded HLS', result.embedded_hls?.latency_s ?? '-', result.embedded_hls?.latency_p95_s ?? '-', result.embedded_hls?.flips ?? 0],
        ['LL-HLS', 'not built', '-', '-'],
        ['nginx-rtmp HLS', result.nginx_hls?.latency_s ?? '-', result.nginx_hls?.latency_p95_s ?? '-', result.nginx_hls?.flips ?? 0],
      ],
    );
    console.log(`CPU added by the broadcast: ${result.cpu_added_per_media_s} CPU-s per media-s   → ${file}`);
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
