import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tileRects } from '../mixer/layout.js';
import { videoEncodeArgs } from '../mixer/pipeline.js';
import { viewFor } from '../mixer/views.js';
import { DEFAULT_CONTROLS, type CanvasSize, type LayoutName, type Member, type Profile, type VideoCodec } from '../src/domain.js';
import { processCpuSeconds } from '../src/procStat.js';
import { BrowserFleet, eventually, newMixerWorld, sleep, type JoinOptions, type MixerWorld } from '../test/mixer/harness.js';
import { PALETTE } from '../test/mixer/signals.js';
import { clipFile, toneFile } from '../test/mixer/sources.js';
import { percentile, printTable, serverCpuSeconds, writeResult } from './lib.js';

/**
 * The mixer on this machine: werift test members on loopback (a child process, replaying pre-encoded
 * 640x360 camera clips and tones, one member flipping its colour for latency), a 1280x720 canvas. For each
 * scenario: CPU-seconds per media-second of the server (Node and its FFmpeg children), the same for the bare
 * FFmpeg command doing the same decode/compose/encode (or decode/mix/encode), measured in the same run.
 */

interface Scenario {
  name: string;
  layout: LayoutName | 'audio';
  members: number;
  fps: number;
  codec: VideoCodec;
  joinLeave: boolean;
}

const CANVAS: CanvasSize = { width: 1280, height: 720 };
const INPUT: CanvasSize = { width: 640, height: 360 };
const COLOURS = ['red', 'lime', 'blue', 'yellow', 'magenta', 'cyan', 'orange', 'purple'] as const;
const quick = process.argv.includes('--quick');
const MEASURE_SECONDS = quick ? 8 : 10;
const WARMUP_SECONDS = 3;

function scenarios(): Scenario[] {
  const scenario = (layout: Scenario['layout'], members: number, fps: number, codec: VideoCodec, joinLeave = false): Scenario => ({
    name: layout === 'audio' ? `audio-${members}` : `${layout}-${members}-${CANVAS.height}p${fps}-${codec.toLowerCase()}`,
    layout,
    members,
    fps,
    codec,
    joinLeave,
  });
  if (quick) return [scenario('personal', 8, 15, 'VP8'), scenario('speaker', 9, 15, 'VP8'), scenario('grid', 4, 15, 'VP8', true)];
  // Every layout and size at 15 fps in VP8, then the other rate and codec on a few, to stay under 20 minutes.
  return [
    scenario('grid', 4, 15, 'VP8', true),
    scenario('grid', 9, 15, 'VP8'),
    scenario('grid', 16, 15, 'VP8'),
    scenario('personal', 4, 15, 'VP8'),
    scenario('personal', 8, 15, 'VP8'),
    scenario('personal', 9, 15, 'VP8'),
    scenario('speaker', 9, 15, 'VP8'),
    scenario('grid', 9, 30, 'VP8'),
    scenario('personal', 4, 30, 'VP8'),
    scenario('grid', 9, 15, 'H264'),
    scenario('grid', 9, 30, 'H264'),
    scenario('personal', 9, 15, 'H264'),
    scenario('speaker', 9, 30, 'H264'),
    scenario('audio', 30, 15, 'VP8'),
    scenario('audio', 60, 15, 'VP8'),
  ];
}

function profileFor(scenario: Scenario): Profile {
  return {
    name: 'bench',
    media: scenario.layout === 'audio' ? 'audio' : 'video',
    canvas: CANVAS,
    fps: scenario.fps,
    codec: scenario.codec,
    videoBitrateKbps: 1500,
    layout: scenario.layout === 'audio' ? 'grid' : scenario.layout,
    maxMembers: 64,
    open: true,
    broadcast: { layout: 'grid', rtmp: null, hls: false, llHls: false, dash: false, record: null },
  };
}

function profilesFile(profile: Profile): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cometmcu-bench-')), 'profiles.ini');
  writeFileSync(
    file,
    `[bench]\nmedia = ${profile.media}\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${profile.fps}\ncodec = ${profile.codec}\n` +
      `bitrate = ${profile.videoBitrateKbps}\nlayout = ${profile.layout}\nmax_members = ${profile.maxMembers}\nopen = true\n`,
  );
  return file;
}

const memberOf = (userId: number): Member => ({
  devId: 0, room: 'bench', userId, profile: 'bench', viewerOnly: false, joinedAt: 0, lastTalkingAt: null, talking: false,
  controls: { ...DEFAULT_CONTROLS },
});

/** The views the server composes for this scenario, with the flipper (member 1) as the active speaker. */
function viewsOf(scenario: Scenario, profile: Profile): { visible: number[]; layout: LayoutName }[] {
  const members = Array.from({ length: scenario.members }, (_, i) => memberOf(i + 1));
  const speakers = { active: 1, previous: 2 };
  const unique = new Map<string, { visible: number[]; layout: LayoutName }>();
  for (const member of members) {
    const view = viewFor(member, members, speakers, profile);
    unique.set(JSON.stringify(view.visible), { visible: view.visible, layout: view.layout });
  }
  return [...unique.values()];
}

/**
 * The floor: one FFmpeg doing the same media work without WebRTC: decode every input once, compose every
 * distinct view (scale + overlay) and encode each; or decode every tone, mix each listener's mix-minus
 * and encode it. Returns CPU-seconds per media-second over a window after start-up.
 */
async function bareFfmpeg(scenario: Scenario, profile: Profile): Promise<number | null> {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
  const filters: string[] = [];
  const outputs: string[] = [];
  const n = scenario.members;
  if (scenario.layout === 'audio') {
    for (let i = 0; i < n; i++) args.push('-re', '-stream_loop', '-1', '-i', toneFile(300 + 25 * i, 0.2));
    for (let i = 0; i < n; i++) filters.push(`[${i}:a]asplit=${n - 1}${Array.from({ length: n - 1 }, (_, k) => `[a${i}_${k}]`).join('')}`);
    for (let listener = 0; listener < n; listener++) {
      const inputs = Array.from({ length: n }, (_, i) => i).filter((i) => i !== listener).map((i) => `[a${i}_${i < listener ? listener - 1 : listener}]`);
      filters.push(`${inputs.join('')}amix=inputs=${n - 1}:normalize=0[mix${listener}]`);
      outputs.push('-map', `[mix${listener}]`, '-c:a', 'libopus', '-b:a', '32k', '-ac', '1', '-f', 'null', '-');
    }
  } else {
    const views = viewsOf(scenario, profile);
    const uses = new Map<number, number>();
    for (const view of views) for (const userId of view.visible) uses.set(userId, (uses.get(userId) ?? 0) + 1);
    for (let i = 0; i < n; i++) args.push('-re', '-stream_loop', '-1', '-i', clipFile(PALETTE[COLOURS[i % COLOURS.length]!]!, INPUT, scenario.fps));
    for (let i = 0; i < n; i++) {
      const count = uses.get(i + 1) ?? 0;
      if (count > 0) filters.push(`[${i}:v]split=${count}${Array.from({ length: count }, (_, k) => `[v${i}_${k}]`).join('')}`);
    }
    const next = new Map<number, number>();
    views.forEach((view, v) => {
      const rects = tileRects(view.layout, view.visible.length, CANVAS);
      let base = `[bg${v}]`;
      filters.push(`color=c=black:s=${CANVAS.width}x${CANVAS.height}:r=${scenario.fps}${base}`);
      view.visible.forEach((userId, t) => {
        const k = next.get(userId) ?? 0;
        next.set(userId, k + 1);
        const rect = rects[t]!;
        filters.push(`[v${userId - 1}_${k}]scale=${rect.width}:${rect.height}:force_original_aspect_ratio=increase,crop=${rect.width}:${rect.height}[t${v}_${t}]`);
        const out = `[o${v}_${t}]`;
        filters.push(`${base}[t${v}_${t}]overlay=${rect.x}:${rect.y}:shortest=1${out}`);
        base = out;
      });
      filters.push(`${base}format=yuv420p[out${v}]`);
      // The very encoding the server does, to a null output.
      outputs.push('-map', `[out${v}]`, ...videoEncodeArgs(profile), '-f', 'null', '-');
    });
  }
  const child = spawn('ffmpeg', [...args, '-filter_complex', filters.join(';'), ...outputs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk));
  await sleep(WARMUP_SECONDS * 1000);
  const before = processCpuSeconds(child.pid!);
  const startedAt = performance.now();
  await sleep(MEASURE_SECONDS * 1000);
  const after = processCpuSeconds(child.pid!);
  const elapsed = (performance.now() - startedAt) / 1000;
  child.kill('SIGKILL');
  if (before === undefined || after === undefined) {
    console.error(`bare ffmpeg failed for ${scenario.name}: ${errors.slice(0, 500)}`);
    return null;
  }
  return (after - before) / elapsed;
}

interface ScenarioResult {
  name: string;
  layout: string;
  members: number;
  fps: number | null;
  canvas: string | null;
  codec: string | null;
  realtime: boolean;
  encoders: number;
  cpu_per_media_s: number;
  bare_ffmpeg_cpu_per_media_s: number | null;
  ratio: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  join_gap_ms: number | null;
  leave_gap_ms: number | null;
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const profile = profileFor(scenario);
  const world = newMixerWorld(profilesFile(profile));
  const video = scenario.layout !== 'audio';
  const fleet = new BrowserFleet(0, CANVAS, scenario.fps);
  const options = (userId: number): JoinOptions => ({
    userId,
    room: 'bench',
    profile: 'bench',
    colour: COLOURS[(userId - 1) % COLOURS.length]!,
    tone: 300 + 25 * userId,
    // Member 1 is the loudest: the active speaker, whose flips the probe (member 2) watches full size.
    volume: userId === 1 ? 0.6 : 0.1,
    source: video && userId === 1 ? 'flip' : 'replay',
    decode: video && userId === 2,
    video,
  });
  try {
    for (let userId = 1; userId <= scenario.members; userId++) await fleet.join(world, options(userId));
    if (video) {
      const layout = scenario.layout as LayoutName;
      const count = layout === 'personal' ? scenario.members - 1 : scenario.members;
      await fleet.call('watchTile', 2, layout, count, 0);
      // Ready when the probe sees the flipper full size or in its first tile (a palette colour, not a placeholder).
      await eventually(async () => {
        const first = (await fleet.call('tiles', 2, layout, count))?.[0];
        if (first !== COLOURS[0] && first !== 'white') throw new Error(`probe sees ${first}`);
      }, 30_000).catch((error: Error) => console.error(`  ${scenario.name}: ${error.message}`));
    }
    await sleep(WARMUP_SECONDS * 1000);
    const statsBefore = world.mixer.stats();
    const cpuBefore = serverCpuSeconds(world.mixer);
    const from = Date.now();
    const startedAt = performance.now();
    await sleep(MEASURE_SECONDS * 1000);
    const elapsed = (performance.now() - startedAt) / 1000;
    const cpu = (serverCpuSeconds(world.mixer) - cpuBefore) / elapsed;
    const to = Date.now();
    const statsAfter = world.mixer.stats();
    if (statsAfter.members !== scenario.members) console.error(`  ${scenario.name}: only ${statsAfter.members} of ${scenario.members} members kept their media`);
    const rendered = statsAfter.framesRendered - statsBefore.framesRendered;
    const dropped = statsAfter.framesDropped - statsBefore.framesDropped;
    const latencies = video ? (await fleet.call('flipLatencies', 1, 2, from, to)).sort((a, b) => a - b) : [];
    const gaps = scenario.joinLeave ? await joinLeaveGaps(world, fleet, scenario, options) : null;
    const bare = await bareFfmpeg(scenario, profile);
    return {
      name: scenario.name,
      layout: scenario.layout,
      members: scenario.members,
      fps: video ? scenario.fps : null,
      canvas: video ? `${CANVAS.width}x${CANVAS.height}` : null,
      codec: video ? scenario.codec : 'opus',
      // Kept up: no more than 5 % of canvases skipped because an encoder was behind (audio: ticks on time).
      realtime: video ? dropped <= 0.05 * (rendered + dropped) : true,
      encoders: video ? statsAfter.videoEncoders : statsAfter.audioMixes,
      cpu_per_media_s: round3(cpu),
      bare_ffmpeg_cpu_per_media_s: bare === null ? null : round3(bare),
      ratio: bare ? round3(cpu / bare) : null,
      latency_p50_ms: latencies.length ? Math.round(percentile(latencies, 50)) : null,
      latency_p95_ms: latencies.length ? Math.round(percentile(latencies, 95)) : null,
      join_gap_ms: gaps?.join ?? null,
      leave_gap_ms: gaps?.leave ?? null,
    };
  } finally {
    await fleet.close();
    await world.mixer.close();
  }
}

/** A member joins, then leaves, while member 2 watches: the longest time without a decoded frame for each. */
async function joinLeaveGaps(world: MixerWorld, fleet: BrowserFleet, scenario: Scenario, options: (userId: number) => JoinOptions): Promise<{ join: number; leave: number }> {
  // The newcomer is another machine: a process of its own, at a lower priority on these 2 cores.
  const newcomer = new BrowserFleet(5, CANVAS, scenario.fps);
  const userId = scenario.members + 1;
  try {
    const offer = await newcomer.offer({ ...options(userId), decode: false });
    const joinFrom = Date.now();
    await newcomer.connect(world, options(userId), offer);
    await sleep(2500);
    const leaveFrom = Date.now();
    await world.model.leave(0, 'bench', userId, 'hangup');
    await sleep(2500);
    const leaveTo = Date.now();
    const join = (await fleet.call('frames', 2, joinFrom, leaveFrom)).longestGap;
    const leave = (await fleet.call('frames', 2, leaveFrom, leaveTo)).longestGap;
    return { join, leave };
  } finally {
    await newcomer.close();
  }
}

export async function benchMixer(): Promise<unknown> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios()) {
    process.stdout.write(`  ${scenario.name} … `);
    const result = await runScenario(scenario);
    results.push(result);
    console.log(`${result.cpu_per_media_s} CPU-s/s (bare ${result.bare_ffmpeg_cpu_per_media_s}), ${result.encoders} encoders`);
  }
  const file = writeResult('mixer', { quick, measure_seconds: MEASURE_SECONDS, scenarios: results });
  printTable(
    ['scenario', 'realtime', 'enc', 'CPU-s/s', 'bare', 'ratio', 'lat p50', 'p95', 'join gap', 'leave gap'],
    results.map((r) => [
      r.name, r.realtime ? 'yes' : 'NO', r.encoders, r.cpu_per_media_s, r.bare_ffmpeg_cpu_per_media_s ?? '-', r.ratio ?? '-',
      r.latency_p50_ms ?? '-', r.latency_p95_ms ?? '-', r.join_gap_ms ?? '-', r.leave_gap_ms ?? '-',
    ]),
  );
  console.log(`→ ${file}`);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchMixer().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
