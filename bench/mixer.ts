import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ffmpegPath, isFfmpegAvailable } from 'node-av/ffmpeg';
import { videoEncodeArgs } from '../mixer/encoders/videoEncoder.js';
import { ffmpegBinary } from '../mixer/ffmpeg.js';
import { tileRects } from '../mixer/views/layouts/index.js';
import { viewFor } from '../mixer/views/views.js';
import { DEFAULT_CONTROLS, type CanvasSize, type LayoutName, type Member, type Profile, type VideoCodec } from '../src/domain.js';
import { processCpuSeconds } from '../src/procStat.js';
import { BrowserFleet, eventually, newMixerWorld, sleep, type JoinOptions, type MixerWorld } from '../test/mixer/harness.js';
import { ProbeFleet } from '../test/mixer/probeFleet.js';
import { PALETTE } from '../test/mixer/signals.js';
import { clipFile, toneFile } from '../test/mixer/sources.js';
import { percentile, printTable, processTreeCpuSeconds, watchEventLoopLag, writeResult } from './lib.js';

/**
 * The mixer on this machine. The server (model and mixer) runs in this process; the test members run at
 * nice 19 in child processes of their own (werift peers replaying pre-encoded 640x360 camera clips and
 * tones; member 1 is the loudest, its camera flipping colour for latency; member 2 decodes what it gets; the
 * last member of a video room is a probe that times keyframe requests and can take the floor). For each
 * scenario, over a measured window: the server's CPU (this process, all its threads, and any FFmpeg child)
 * per second of media it produced (canvases encoded ÷ fps, per view), the members' CPU, event-loop lag, flip
 * latency; then keyframe requests, speaker switches, a join and a leave. Then, with the room and its members
 * gone, the bare FFmpeg floor alone: the same clips decoded, scaled to the same tiles, composed and encoded
 * with the same settings, video only and with the same audio work, on as many media seconds.
 *
 * Flags: --quick (personal 8, speaker 9, grid 4 with a join and a leave; no memory scenario), --only a,b
 * (scenarios whose names start so; "memory" for the join/leave RSS scenario), --seconds N (measured
 * window), --cycles N (join/leave cycles of the memory scenario, 200).
 */

interface Scenario {
  name: string;
  layout: LayoutName | 'audio';
  members: number;
  fps: number;
  codec: VideoCodec;
  joinLeave: boolean;
}

function flagValue(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index < 0 ? undefined : process.argv[index + 1];
}

function numberFlag(name: string, fallback: number): number {
  const value = Number(flagValue(name) ?? fallback);
  if (!(value > 0)) throw new Error(`${name} wants a positive number`);
  return value;
}

const quick = process.argv.includes('--quick');
const only = flagValue('--only')?.split(',');
const selected = (name: string): boolean => !only || only.some((prefix) => name.startsWith(prefix));
const MEASURE_SECONDS = numberFlag('--seconds', quick ? 8 : 10);
const MEMORY_CYCLES = numberFlag('--cycles', 200);
const WARMUP_SECONDS = 3;
/** Media the bare FFmpeg produces before its window opens: its start-up is not counted, as the server's is not. */
const FLOOR_WARMUP_SECONDS = 2;
const KEYFRAME_REQUESTS = quick ? 4 : 8;
const KEYFRAME_REQUEST_SPACING_MS = 1500;
/** Speaker changes: the probe takes the floor and gives it back, twice. */
const SPEAKER_SWITCHES = 4;
/** What is watched after each speaker change: the tracker's hold (0.4 s) and release (0.6 s), and the switch. */
const SWITCH_WINDOW_MS = 2500;
const CANVAS: CanvasSize = { width: 1280, height: 720 };
/** What every member's camera sends. */
const CAMERA: CanvasSize = { width: 640, height: 360 };
const ROOM = 'bench';
/**
 * The bare FFmpeg: node-av's own build when its binary is installed (the libraries the server encodes with),
 * else the system's, as the server's broadcasts use.
 */
const FLOOR_FFMPEG = isFfmpegAvailable() ? ffmpegPath() : ffmpegBinary();

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
  // Every layout and size at 15 fps in VP8, then the other rate and codec on a few.
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

function profileFor(scenario: Pick<Scenario, 'layout' | 'fps' | 'codec'>): Profile {
  return {
    name: ROOM,
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
    `[${profile.name}]\nmedia = ${profile.media}\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${profile.fps}\ncodec = ${profile.codec}\n` +
      `bitrate = ${profile.videoBitrateKbps}\nlayout = ${profile.layout}\nmax_members = ${profile.maxMembers}\nopen = true\n`,
  );
  return file;
}

/**
 * speaker: the loudest (in a video room its camera flips colour, for latency); watcher: decodes what it gets
 * (member 2 watches the speaker's tile; in an audio room members 2 and 3 listen); probe: the last member of a
 * video room (fleetProbes.ts), silent until it takes the floor.
 */
type Role = 'speaker' | 'watcher' | 'probe' | 'member';

interface PlannedMember {
  userId: number;
  role: Role;
  colour: string;
  tone: number;
  /** Tone amplitude, 0..1, as the server receives it in the measured window. */
  volume: number;
}

/** Member 1's colour, and the one its camera flips to. */
const SPEAKER_COLOURS = ['red', 'white'];
const OTHER_COLOURS = ['lime', 'blue', 'yellow', 'magenta', 'cyan', 'orange', 'purple'];

function planMembers(scenario: Scenario): PlannedMember[] {
  const video = scenario.layout !== 'audio';
  return Array.from({ length: scenario.members }, (_, index) => {
    const userId = index + 1;
    const role: Role =
      userId === 1 ? 'speaker' : userId === 2 || (!video && userId === 3) ? 'watcher' : video && userId === scenario.members ? 'probe' : 'member';
    // Quieter members in audio rooms: sixty tones at 0.1 would clip the mix and hide who is heard.
    const volume = role === 'speaker' ? (video ? 0.6 : 0.1) : role === 'probe' ? 0 : video ? 0.1 : 0.02;
    return { userId, role, colour: userId === 1 ? SPEAKER_COLOURS[0]! : OTHER_COLOURS[(userId - 2) % OTHER_COLOURS.length]!, tone: 300 + 25 * userId, volume };
  });
}

function joinOptions(member: PlannedMember, video: boolean): JoinOptions {
  return {
    userId: member.userId,
    room: ROOM,
    profile: ROOM,
    colour: member.colour,
    tone: member.tone,
    volume: member.volume,
    source: video && member.role === 'speaker' ? 'flip' : 'replay',
    decode: member.role === 'watcher',
    video,
  };
}

const memberOf = (userId: number): Member => ({
  devId: 0, room: ROOM, userId, profile: ROOM, viewerOnly: false, joinedAt: 0, lastTalkingAt: null, talking: false,
  controls: { ...DEFAULT_CONTROLS },
});

interface ViewPlan {
  layout: LayoutName;
  visible: number[];
}

/** What `subscriber` sees in the measured window: member 1 took the floor first, nobody before. */
function viewOf(subscriber: number, plan: readonly PlannedMember[], profile: Profile): ViewPlan {
  const view = viewFor(memberOf(subscriber), plan.map((m) => memberOf(m.userId)), { active: 1, previous: null }, profile);
  return { layout: view.layout, visible: view.visible };
}

/** The distinct views the server composes and encodes in the measured window. */
function distinctViews(plan: readonly PlannedMember[], profile: Profile): ViewPlan[] {
  const unique = new Map<string, ViewPlan>();
  for (const { userId } of plan) {
    const view = viewOf(userId, plan, profile);
    unique.set(JSON.stringify(view), view);
  }
  return [...unique.values()];
}

const even = (value: number): number => Math.floor(value / 2) * 2;

/** The centre of the camera's picture with the tile's proportions: scaled to the tile, it covers it. */
function coverCrop(tile: CanvasSize): string {
  const scale = Math.max(tile.width / CAMERA.width, tile.height / CAMERA.height);
  const width = Math.min(CAMERA.width, even(tile.width / scale));
  const height = Math.min(CAMERA.height, even(tile.height / scale));
  return `crop=${width}:${height}:${even((CAMERA.width - width) / 2)}:${even((CAMERA.height - height) / 2)}`;
}

/**
 * The server's Opus encoder (mixer/audio.ts: @discordjs/opus, 48 kHz mono, application "audio", 20 ms frames)
 * at libopus's automatic bitrate for it, 51 kb/s.
 */
const OPUS_ENCODE_ARGS = ['-c:a', 'libopus', '-application', 'audio', '-frame_duration', '20', '-b:a', '51k', '-ac', '1'];

/**
 * One FFmpeg doing the server's media work without WebRTC, as `seconds` of media to null outputs.
 * Video: every member's clip decoded once (one thread each), scaled once per tile size some view draws it at
 * (cover then crop, fast bilinear), each distinct view composed (overlay on a black canvas) and encoded with
 * the server's encoder settings (-threads 1). Audio: every member's Opus tone decoded (libopus), for each
 * listener the mix of everyone else (mix-minus), each mix encoded as the server does.
 */
function bareFloorArgs(plan: readonly PlannedMember[], views: readonly ViewPlan[] | null, profile: Profile, seconds: number, audio: boolean): string[] {
  const inputs: string[] = [];
  const filters: string[] = [];
  const outputs: string[] = [];
  const duration = ['-t', seconds.toFixed(2)];
  if (views) {
    // For each member, for each tile size it is drawn at, the tiles (filter pads) that show it.
    const draws = new Map<number, Map<string, string[]>>(plan.map(({ userId }) => [userId, new Map()]));
    views.forEach((view, v) => {
      const rects = tileRects(view.layout, view.visible.length, CANVAS);
      let canvas = `background${v}`;
      filters.push(`color=c=black:s=${CANVAS.width}x${CANVAS.height}:r=${profile.fps}[${canvas}]`);
      view.visible.forEach((userId, t) => {
        const rect = rects[t]!;
        const tile = `tile${v}_${t}`;
        const sizes = draws.get(userId)!;
        const size = `${rect.width}x${rect.height}`;
        sizes.set(size, [...(sizes.get(size) ?? []), tile]);
        const next = `canvas${v}_${t}`;
        filters.push(`[${canvas}][${tile}]overlay=${rect.x}:${rect.y}[${next}]`);
        canvas = next;
      });
      outputs.push('-map', `[${canvas}]`, ...videoEncodeArgs(profile), ...duration, '-f', 'null', '-');
    });
    plan.forEach((member, i) => {
      inputs.push('-threads', '1', '-stream_loop', '-1', '-i', clipFile(PALETTE[member.colour]!, CAMERA, profile.fps));
      const sizes = [...draws.get(member.userId)!];
      if (sizes.length === 0) return void filters.push(`[${i}:v]nullsink`);
      filters.push(`[${i}:v]split=${sizes.length}${sizes.map((_, s) => `[member${i}_${s}]`).join('')}`);
      sizes.forEach(([size, tiles], s) => {
        const [width, height] = size.split('x').map(Number) as [number, number];
        filters.push(
          `[member${i}_${s}]${coverCrop({ width, height })},scale=${width}:${height}:flags=fast_bilinear,split=${tiles.length}${tiles.map((tile) => `[${tile}]`).join('')}`,
        );
      });
    });
  }
  if (audio) {
    const first = views ? plan.length : 0;
    const n = plan.length;
    const others = (listener: number): number[] => plan.map((_, i) => i).filter((i) => i !== listener);
    plan.forEach((member, i) => {
      inputs.push('-threads', '1', '-c:a', 'libopus', '-stream_loop', '-1', '-i', toneFile(member.tone, member.volume));
      filters.push(`[${first + i}:a]asplit=${n - 1}${others(i).map((listener) => `[voice${i}_to${listener}]`).join('')}`);
    });
    plan.forEach((_, listener) => {
      filters.push(`${others(listener).map((i) => `[voice${i}_to${listener}]`).join('')}amix=inputs=${n - 1}:normalize=0[mix${listener}]`);
      outputs.push('-map', `[mix${listener}]`, ...OPUS_ENCODE_ARGS, ...duration, '-f', 'null', '-');
    });
  }
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'info', '-nostats', '-benchmark', '-progress', 'pipe:1', '-stats_period', '0.2',
    '-filter_complex_threads', '1', ...inputs, '-filter_complex', filters.join(';'), ...outputs,
  ];
}

interface FloorRun {
  cpuPerMediaS: number;
  /** Its wall time was at most the media time it produced. */
  realtime: boolean;
}

/**
 * Runs the bare FFmpeg (bareFloorArgs) as fast as it goes; the window opens once FLOOR_WARMUP_SECONDS of
 * media are out and closes when it exits. CPU: its own, all threads (/proc at the window's start, its
 * getrusage report, -benchmark, at the end), per media second produced in the window.
 */
async function bareFloor(args: string[]): Promise<FloorRun | null> {
  const child = spawn(FLOOR_FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors = (errors + chunk).slice(-16_384)));
  let outTimeUs = 0;
  let window: { cpu: number; wallMs: number; mediaUs: number } | undefined;
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const [key, value] = line.split('=');
      if (key === 'out_time_us' && Number(value) >= 0) outTimeUs = Number(value);
      if (key === 'progress' && !window && outTimeUs >= FLOOR_WARMUP_SECONDS * 1e6) {
        const cpu = processCpuSeconds(child.pid!);
        if (cpu !== undefined) window = { cpu, wallMs: performance.now(), mediaUs: outTimeUs };
      }
    }
  });
  const [code] = (await once(child, 'close')) as [number | null];
  const endedAt = performance.now();
  const bench = /bench: utime=([\d.]+)s stime=([\d.]+)s/.exec(errors);
  if (code !== 0 || !bench || !window) {
    console.error(`  bare FFmpeg failed (exit ${code}): ${errors.slice(-1500)}`);
    return null;
  }
  const cpu = Number(bench[1]) + Number(bench[2]) - window.cpu;
  const media = (outTimeUs - window.mediaUs) / 1e6;
  return { cpuPerMediaS: cpu / media, realtime: (endedAt - window.wallMs) / 1000 <= media };
}

interface ScenarioResult {
  name: string;
  layout: string;
  members: number;
  fps: number | null;
  canvas: string | null;
  codec: string | null;
  /** Members with media for the whole run: never left, and seen (or heard) by a watcher at the window's end. */
  members_kept: number;
  /** The server produced at least 95 % of the media time it should have (audio: event-loop lag p99 under a tick). */
  realtime: boolean;
  wall_s: number;
  /** Per view: canvases composed and sent to the encoders ÷ fps ÷ encoders (audio: wall time). */
  media_s: number;
  encoders: number;
  /** Most encoders at once, sampled every 250 ms from the window to the end (switches, join and leave included). */
  encoders_max: number;
  cpu_per_media_s: number | null;
  /** The test members' processes (and their children), per wall second. */
  members_cpu_per_s: number;
  bare_ffmpeg_cpu_per_media_s: number | null;
  bare_ffmpeg_realtime: boolean | null;
  bare_av_cpu_per_media_s: number | null;
  bare_av_realtime: boolean | null;
  ratio: number | null;
  ratio_av: number | null;
  /** Distinct views encoded per core of server CPU (personal layouts). */
  canvases_per_core: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  /** A subscriber's PLI → the whole keyframe received, p95. */
  keyframe_ms: number | null;
  event_loop_p99_ms: number;
  event_loop_max_ms: number;
  join_gap_ms: number | null;
  leave_gap_ms: number | null;
  /** Speaker layout: the longest frame gap at the watcher around a change of speaker. */
  switch_gap_ms: number | null;
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;
const round1 = (value: number): number => Math.round(value * 10) / 10;
const ratioOf = (server: number | null, floor: number | null | undefined): number | null => (server !== null && floor ? round3(server / floor) : null);

/** The test members' processes: their CPU is theirs, not the server's. */
interface Members {
  fleet: BrowserFleet;
  probes: ProbeFleet | undefined;
  probe: PlannedMember | undefined;
  pids: Set<number>;
}

async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const profile = profileFor(scenario);
  const video = scenario.layout !== 'audio';
  const plan = planMembers(scenario);
  const world = newMixerWorld(profilesFile(profile));
  const fleet = new BrowserFleet(19, CANVAS, scenario.fps);
  const probe = plan.find((m) => m.role === 'probe');
  const probes = probe ? new ProbeFleet(19) : undefined;
  const members: Members = { fleet, probes, probe, pids: new Set([fleet.pid, ...(probes ? [probes.pid] : [])]) };
  const departed = new Set<number>();
  const stopWatchingLeaves = world.model.subscribe({ memberLeft: (member) => void departed.add(member.userId) });
  let encodersMax = 0;
  const sampler = setInterval(() => (encodersMax = Math.max(encodersMax, world.mixer.stats().videoEncoders)), 250);
  try {
    for (const member of plan) {
      if (member.role === 'probe') await probes!.join(world, { userId: member.userId, colour: member.colour, tone: member.tone, fps: scenario.fps, room: ROOM, profile: ROOM });
      else await fleet.join(world, joinOptions(member, video));
    }
    const watched = video ? viewOf(2, plan, profile) : undefined;
    if (watched) {
      await fleet.call('watchTile', 2, watched.layout, watched.visible.length, 0);
      // Ready when the watcher sees every member it should, live.
      await eventually(async () => {
        const seen = await membersSeen(fleet, plan, watched);
        if (seen.size < watched.visible.length) throw new Error(`the watcher sees ${seen.size} of ${watched.visible.length} members`);
      }, 30_000).catch((error: Error) => console.error(`  ${scenario.name}: ${error.message}`));
    }
    encodersMax = 0;
    await sleep(WARMUP_SECONDS * 1000);
    const window = await measureWindow(world, members, scenario, plan, watched);
    const keyframes = probe ? (await probes!.call('keyframeLatencies', probe.userId, KEYFRAME_REQUESTS, KEYFRAME_REQUEST_SPACING_MS)).sort((a, b) => a - b) : [];
    const switchGap = scenario.layout === 'speaker' ? await speakerSwitchGap(fleet, probes!, probe!, plan) : null;
    const gaps = scenario.joinLeave ? await joinLeaveGaps(world, members, scenario, plan) : null;
    const lost = plan.filter((m) => departed.has(m.userId) || !window.withMedia.has(m.userId)).map((m) => m.userId);
    if (lost.length) console.error(`  ${scenario.name}: members ${lost.join(', ')} lost their media (${[...departed].join(', ') || 'none'} left)`);
    const kept = plan.length - lost.length;
    return {
      name: scenario.name,
      layout: scenario.layout,
      members: scenario.members,
      fps: video ? scenario.fps : null,
      canvas: video ? `${CANVAS.width}x${CANVAS.height}` : null,
      codec: video ? scenario.codec : 'opus',
      members_kept: kept,
      realtime: window.realtime,
      wall_s: round3(window.wallS),
      media_s: round3(window.mediaS),
      encoders: window.encoders,
      encoders_max: Math.max(encodersMax, window.encoders),
      cpu_per_media_s: window.mediaS > 0 ? round3(window.serverCpu / window.mediaS) : null,
      members_cpu_per_s: round3(window.membersCpu / window.wallS),
      bare_ffmpeg_cpu_per_media_s: null,
      bare_ffmpeg_realtime: null,
      bare_av_cpu_per_media_s: null,
      bare_av_realtime: null,
      ratio: null,
      ratio_av: null,
      canvases_per_core: scenario.layout === 'personal' && window.mediaS > 0 && window.serverCpu > 0 ? round3(window.encoders / (window.serverCpu / window.mediaS)) : null,
      latency_p50_ms: window.latencies.length ? Math.round(percentile(window.latencies, 50)) : null,
      latency_p95_ms: window.latencies.length ? Math.round(percentile(window.latencies, 95)) : null,
      keyframe_ms: keyframes.length ? Math.round(percentile(keyframes, 95)) : null,
      event_loop_p99_ms: round1(window.lag.p99Ms),
      event_loop_max_ms: round1(window.lag.maxMs),
      join_gap_ms: gaps?.join ?? null,
      leave_gap_ms: gaps?.leave ?? null,
      switch_gap_ms: switchGap,
    };
  } finally {
    clearInterval(sampler);
    stopWatchingLeaves();
    await Promise.all([fleet.close(), probes?.close()]);
    await world.mixer.close();
  }
}

interface Window {
  wallS: number;
  mediaS: number;
  encoders: number;
  realtime: boolean;
  serverCpu: number;
  membersCpu: number;
  lag: { p99Ms: number; maxMs: number };
  latencies: number[];
  /** Members whose media a watcher got up to the window's end. */
  withMedia: Set<number>;
}

/** The measured window: CPU of the server and of the members, media produced, event-loop lag, flip latency. */
async function measureWindow(world: MixerWorld, members: Members, scenario: Scenario, plan: PlannedMember[], watched: ViewPlan | undefined): Promise<Window> {
  const video = watched !== undefined;
  const serverCpu = (): number => processTreeCpuSeconds(process.pid, members.pids);
  const membersCpu = (): number => [...members.pids].reduce((total, pid) => total + processTreeCpuSeconds(pid), 0);
  const statsBefore = world.mixer.stats();
  const [serverBefore, membersBefore] = [serverCpu(), membersCpu()];
  const stopLag = watchEventLoopLag();
  const from = Date.now();
  const startedAt = performance.now();
  await sleep(MEASURE_SECONDS * 1000);
  const wallS = (performance.now() - startedAt) / 1000;
  const [serverAfter, membersAfter] = [serverCpu(), membersCpu()];
  const lag = stopLag();
  const to = Date.now();
  const statsAfter = world.mixer.stats();
  const encoders = video ? Math.round((statsBefore.videoEncoders + statsAfter.videoEncoders) / 2) : statsAfter.audioMixes;
  const mediaS = video ? (encoders > 0 ? (statsAfter.framesEncoded - statsBefore.framesEncoded) / scenario.fps / encoders : 0) : wallS;
  const latencies = video ? (await members.fleet.call('flipLatencies', 1, 2, from, to)).sort((a, b) => a - b) : [];
  return {
    wallS,
    mediaS,
    encoders,
    // Audio is mixed on the event loop every 20 ms: it keeps up while the loop is never that late.
    realtime: video ? mediaS >= 0.95 * wallS : lag.p99Ms < 20,
    serverCpu: serverAfter - serverBefore,
    membersCpu: membersAfter - membersBefore,
    lag,
    latencies,
    withMedia: video ? await membersWithVideo(members, scenario, plan, watched, from, to) : await membersHeard(members.fleet, plan),
  };
}

/** The members a watcher sees live in their tiles now (their own colour, not a placeholder). */
async function membersSeen(fleet: BrowserFleet, plan: readonly PlannedMember[], watched: ViewPlan): Promise<Set<number>> {
  const colours = (await fleet.call('tiles', 2, watched.layout, watched.visible.length)) ?? [];
  const colourOf = new Map(plan.map((m) => [m.userId, m.colour]));
  return new Set(
    watched.visible.filter((userId, tile) => colours[tile] === colourOf.get(userId) || (userId === 1 && SPEAKER_COLOURS.includes(colours[tile]!))),
  );
}

/**
 * Video members with media: seen live by member 2 at the window's end, and for the two watchers also
 * pictures received through the window (at least half of them). Member 2's own camera is checked where
 * it sees itself (grid, speaker); in the personal layout only its downlink is.
 */
async function membersWithVideo(members: Members, scenario: Scenario, plan: PlannedMember[], watched: ViewPlan, from: number, to: number): Promise<Set<number>> {
  const seen = await membersSeen(members.fleet, plan, watched);
  const expectedFrames = 0.5 * scenario.fps * ((to - from) / 1000);
  const watcherFrames = (await members.fleet.call('frames', 2, from, to)).count;
  const probeFrames = members.probe ? (await members.probes!.call('frames', members.probe.userId, from, to)).count : 0;
  return new Set(
    plan
      .filter((m) => {
        if (m.userId === 2) return watcherFrames >= expectedFrames && (seen.has(2) || !watched.visible.includes(2));
        if (m.role === 'probe') return probeFrames >= expectedFrames && seen.has(m.userId);
        return seen.has(m.userId);
      })
      .map((m) => m.userId),
  );
}

/**
 * Audio members with media: their tone heard over the last 2 s by a listening member (member 2 hears all
 * but itself, member 3 hears member 2), at no less than a tenth of the median tone's power.
 */
async function membersHeard(fleet: BrowserFleet, plan: readonly PlannedMember[]): Promise<Set<number>> {
  const heard = new Set<number>();
  const listen = async (listener: number, speakers: readonly PlannedMember[], threshold?: number): Promise<number> => {
    const powers = await fleet.call('tonePowers', listener, 2000, speakers.map((m) => m.tone));
    const least = threshold ?? percentile([...powers].sort((a, b) => a - b), 50) / 10;
    speakers.forEach((m, i) => {
      if (powers[i]! >= least) heard.add(m.userId);
    });
    return least;
  };
  const threshold = await listen(2, plan.filter((m) => m.userId !== 2));
  await listen(3, plan.filter((m) => m.userId === 2), threshold);
  return heard;
}

/**
 * The probe takes the floor and gives it back, SPEAKER_SWITCHES times: each time, once member 2 shows the new
 * speaker full size, the longest gap between the pictures it decoded in the SWITCH_WINDOW_MS after the change.
 */
async function speakerSwitchGap(fleet: BrowserFleet, probes: ProbeFleet, probe: PlannedMember, plan: readonly PlannedMember[]): Promise<number | null> {
  const gaps: number[] = [];
  for (let i = 0; i < SPEAKER_SWITCHES; i++) {
    const takesFloor = i % 2 === 0;
    const from = Date.now();
    await probes.call('speak', probe.userId, takesFloor);
    const expected = takesFloor ? [probe.colour] : SPEAKER_COLOURS;
    const switched = await eventually(async () => {
      const main = (await fleet.call('tiles', 2, 'speaker', plan.length))?.[0];
      if (!main || !expected.includes(main)) throw new Error(`member 2 shows ${main} full size`);
    }, SWITCH_WINDOW_MS * 2).then(
      () => true,
      (error: Error) => void console.error(`  no speaker change ${i + 1}: ${error.message}`),
    );
    await sleep(Math.max(0, from + SWITCH_WINDOW_MS - Date.now()));
    if (switched) gaps.push((await fleet.call('frames', 2, from, Date.now())).longestGap);
  }
  return gaps.length ? Math.max(...gaps) : null;
}

/**
 * A member joins, then leaves, while member 2 and the probe watch: for each, the longest time without a
 * picture (member 2: decoded; the probe: a whole usable frame) after the join and after the leave.
 */
async function joinLeaveGaps(world: MixerWorld, members: Members, scenario: Scenario, plan: readonly PlannedMember[]): Promise<{ join: number; leave: number }> {
  // The newcomer is another machine: a process of its own, at the members' low priority.
  const newcomer = new BrowserFleet(19, CANVAS, scenario.fps);
  const userId = plan.length + 1;
  const options = joinOptions({ userId, role: 'member', colour: OTHER_COLOURS[(userId - 2) % OTHER_COLOURS.length]!, tone: 300 + 25 * userId, volume: 0.1 }, true);
  const longestGap = async (from: number, to: number): Promise<number> => {
    const gaps = [(await members.fleet.call('frames', 2, from, to)).longestGap];
    if (members.probe) gaps.push((await members.probes!.call('frames', members.probe.userId, from, to)).longestGap);
    return Math.max(...gaps);
  };
  try {
    const offer = await newcomer.offer(options);
    const joinFrom = Date.now();
    await newcomer.connect(world, options, offer);
    await sleep(2500);
    const leaveFrom = Date.now();
    await world.model.leave(0, ROOM, userId, 'hangup');
    await sleep(2500);
    return { join: await longestGap(joinFrom, leaveFrom), leave: await longestGap(leaveFrom, Date.now()) };
  } finally {
    await newcomer.close();
  }
}

/** Both floors of a scenario, run alone (the room and its members are gone), on the server's media seconds. */
async function withFloors(result: ScenarioResult, scenario: Scenario): Promise<ScenarioResult> {
  const profile = profileFor(scenario);
  const plan = planMembers(scenario);
  const video = scenario.layout !== 'audio';
  const seconds = FLOOR_WARMUP_SECONDS + (result.media_s > 0 ? result.media_s : MEASURE_SECONDS);
  const views = video ? distinctViews(plan, profile) : null;
  const videoOnly = video ? await bareFloor(bareFloorArgs(plan, views, profile, seconds, false)) : null;
  const withAudio = await bareFloor(bareFloorArgs(plan, views, profile, seconds, true));
  const bare = videoOnly && round3(videoOnly.cpuPerMediaS);
  const bareAv = withAudio && round3(withAudio.cpuPerMediaS);
  return {
    ...result,
    bare_ffmpeg_cpu_per_media_s: bare,
    bare_ffmpeg_realtime: videoOnly?.realtime ?? null,
    bare_av_cpu_per_media_s: bareAv,
    bare_av_realtime: withAudio?.realtime ?? null,
    ratio: ratioOf(result.cpu_per_media_s, bare),
    ratio_av: ratioOf(result.cpu_per_media_s, bareAv),
  };
}

interface MemoryResult {
  cycles: number;
  seconds: number;
  rss_start_mb: number;
  rss_end_mb: number;
  /** RSS after the cycles minus before them. */
  rss_growth_mb: number;
  /** Members in the room at the end (2 expected: the cycling member left every time). */
  members_after: number;
}

/** A full garbage collection (V8's gc exposed for the purpose), so RSS is not read with garbage in it. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function settledRssMb(): Promise<number> {
  // Closed legs and decoders finish asynchronously.
  await sleep(2000);
  collectGarbage();
  await sleep(200);
  return process.memoryUsage().rss / 2 ** 20;
}

/**
 * One room (grid, 720p15 VP8) of two members; a third joins (a werift member sending its clip and tone),
 * stays CYCLE_MEDIA_MS, and leaves, `cycles` times. RSS of the server after minus before, after a few
 * cycles of warm-up (first-time allocations are no leak).
 */
async function memoryScenario(cycles: number): Promise<MemoryResult> {
  const CYCLE_MEDIA_MS = 500;
  const WARMUP_CYCLES = 5;
  const scenario: Scenario = { name: 'memory', layout: 'grid', members: 3, fps: 15, codec: 'VP8', joinLeave: false };
  const profile = profileFor(scenario);
  const [first, second, cycling] = planMembers(scenario).map((m) => joinOptions({ ...m, role: 'member', volume: 0.1 }, true)) as [JoinOptions, JoinOptions, JoinOptions];
  const world = newMixerWorld(profilesFile(profile));
  const fleet = new BrowserFleet(19, CANVAS, scenario.fps);
  const cycle = async (): Promise<void> => {
    await fleet.join(world, cycling);
    await sleep(CYCLE_MEDIA_MS);
    await world.model.leave(0, ROOM, cycling.userId, 'hangup');
    await fleet.call('close', cycling.userId);
  };
  try {
    await fleet.join(world, first);
    await fleet.join(world, second);
    for (let i = 0; i < WARMUP_CYCLES; i++) await cycle();
    const start = await settledRssMb();
    const startedAt = performance.now();
    for (let i = 0; i < cycles; i++) await cycle();
    const seconds = (performance.now() - startedAt) / 1000;
    const end = await settledRssMb();
    return { cycles, seconds: round1(seconds), rss_start_mb: round1(start), rss_end_mb: round1(end), rss_growth_mb: round1(end - start), members_after: world.mixer.stats().members };
  } finally {
    await fleet.close();
    await world.mixer.close();
  }
}

interface GoalCheck {
  goal: string;
  /** The worst value measured, and where. */
  worst: string;
  scenario: string;
  /** null: nothing measured it. */
  pass: boolean | null;
}

/**
 * The issue's goals, each judged on the scenarios it speaks of by the worst value measured there. A scenario
 * that did not measure a figure is left out of that goal; a goal nothing measured is neither met nor missed.
 */
function goalChecks(results: readonly ScenarioResult[], memory: MemoryResult | null): GoalCheck[] {
  const check = (
    goal: string,
    applies: (r: ScenarioResult) => boolean,
    value: (r: ScenarioResult) => number | null,
    bound: { atMost: number } | { atLeast: number },
    format: (value: number) => string = String,
  ): GoalCheck => {
    const measured = results.filter(applies).flatMap((r) => {
      const v = value(r);
      return v === null ? [] : [{ name: r.name, value: v }];
    });
    if (measured.length === 0) return { goal, worst: '-', scenario: '-', pass: null };
    const atMost = 'atMost' in bound;
    const worst = measured.reduce((a, b) => ((atMost ? b.value > a.value : b.value < a.value) ? b : a));
    return { goal, worst: format(worst.value), scenario: worst.name, pass: atMost ? worst.value <= bound.atMost : worst.value >= bound.atLeast };
  };
  const all = (): boolean => true;
  const isVideo = (r: ScenarioResult): boolean => r.fps !== null;
  const at15 = (r: ScenarioResult): boolean => r.fps === 15;
  const flagship = ['grid-9-720p15-vp8', 'personal-8-720p15-vp8', 'speaker-9-720p15-vp8'];
  const larger = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));
  return [
    check('members_kept == members', all, (r) => r.members - r.members_kept, { atMost: 0 }, (lost) => `${lost} lost`),
    check('every scenario real time', all, (r) => (r.realtime ? 0 : 1), { atMost: 0 }, (late) => (late ? 'not real time' : 'real time')),
    check('ratio_av <= 1.15 (grid 9, personal 8, speaker 9)', (r) => flagship.includes(r.name), (r) => r.ratio_av, { atMost: 1.15 }),
    check('>= 6 personal 720p15 VP8 canvases per core', (r) => r.layout === 'personal' && r.name.endsWith('720p15-vp8'), (r) => r.canvases_per_core, { atLeast: 6 }),
    check('flip latency p95 <= 100 ms', isVideo, (r) => r.latency_p95_ms, { atMost: 100 }),
    check('join and leave gaps <= 100 ms at 15 fps', at15, (r) => larger(r.join_gap_ms, r.leave_gap_ms), { atMost: 100 }),
    check('speaker-switch gap <= 100 ms at 15 fps', at15, (r) => r.switch_gap_ms, { atMost: 100 }),
    check('keyframe_ms p95 <= 100', isVideo, (r) => r.keyframe_ms, { atMost: 100 }),
    check('event-loop lag p99 <= 20 ms', all, (r) => r.event_loop_p99_ms, { atMost: 20 }),
    check('speaker uses 2 encoders', (r) => r.layout === 'speaker', (r) => r.encoders_max, { atMost: 2 }),
    memory
      ? { goal: `RSS within 20 MB after ${memory.cycles} join/leave cycles`, worst: `+${memory.rss_growth_mb} MB`, scenario: 'memory', pass: memory.rss_growth_mb <= 20 }
      : { goal: 'RSS within 20 MB after 200 join/leave cycles', worst: '-', scenario: '-', pass: null },
  ];
}

function floorFfmpeg(): string {
  const version = execFileSync(FLOOR_FFMPEG, ['-version'], { encoding: 'utf8' }).split('\n')[0]!.replace(/ Copyright.*/, '');
  return `${FLOOR_FFMPEG}: ${version}`;
}

export async function benchMixer(): Promise<unknown> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios().filter((s) => selected(s.name))) {
    process.stdout.write(`  ${scenario.name} … `);
    const measured = await runScenario(scenario);
    // The floor runs alone: after the room and its members are torn down.
    const result = await withFloors(measured, scenario);
    results.push(result);
    console.log(
      `${result.cpu_per_media_s} CPU-s per media-s (bare ${result.bare_ffmpeg_cpu_per_media_s}, with audio ${result.bare_av_cpu_per_media_s}), ` +
        `${result.encoders} encoders, ${result.members_kept}/${result.members} kept`,
    );
  }
  const runMemory = only ? selected('memory') : !quick;
  let memory: MemoryResult | null = null;
  if (runMemory) {
    process.stdout.write(`  memory: ${MEMORY_CYCLES} join/leave cycles … `);
    memory = await memoryScenario(MEMORY_CYCLES);
    console.log(`RSS ${memory.rss_start_mb} → ${memory.rss_end_mb} MB in ${memory.seconds} s`);
  }
  const goals = goalChecks(results, memory);
  const file = writeResult('mixer', {
    quick,
    measure_seconds: MEASURE_SECONDS,
    warmup_seconds: WARMUP_SECONDS,
    bare_ffmpeg: floorFfmpeg(),
    scenarios: results,
    memory,
    goals,
  });
  const show = (value: number | boolean | null): string | number => (value === null ? '-' : value === true ? 'yes' : value === false ? 'NO' : value);
  printTable(
    ['scenario', 'kept', 'rt', 'enc', 'CPU/media-s', 'bare', 'bare+av', 'ratio av', 'members CPU', 'lat p95', 'kf p95', 'loop p99', 'join', 'leave', 'switch'],
    results.map((r) => [
      r.name, `${r.members_kept}/${r.members}`, show(r.realtime), r.encoders, show(r.cpu_per_media_s), show(r.bare_ffmpeg_cpu_per_media_s),
      show(r.bare_av_cpu_per_media_s), show(r.ratio_av), r.members_cpu_per_s, show(r.latency_p95_ms), show(r.keyframe_ms), r.event_loop_p99_ms,
      show(r.join_gap_ms), show(r.leave_gap_ms), show(r.switch_gap_ms),
    ]),
  );
  console.log('');
  printTable(
    ['goal', 'worst', 'where', ''],
    goals.map((g) => [g.goal, g.worst, g.scenario, g.pass === null ? '-' : g.pass ? 'PASS' : 'MISS']),
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
