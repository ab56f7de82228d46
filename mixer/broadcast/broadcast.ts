import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { BroadcastOutputState, View } from '../../src/domain.js';
import { Compositor, type CanvasSink, type PictureSource } from '../views/compositor.js';
import { pictureBytes } from '../views/frames.js';
import { reportInternalError } from '../../src/faults.js';
import { SupervisedFfmpeg } from '../ffmpeg.js';
import { Fmp4Error } from './fmp4.js';
import { LowLatencyHls } from './llHls.js';

/** Where one room's broadcast goes (templates already filled in). */
export interface BroadcastTargets {
  rtmp: string | null;
  /** Folder of the embedded HLS (index.m3u8) and DASH (index.mpd) output. */
  hlsDir: string | null;
  /** The embedded HLS is low-latency HLS, packaged in memory (served from Broadcast.lowLatencyHls). */
  lowLatency: boolean;
  dash: boolean;
  record: string | null;
  /** Segment length of HLS and DASH, seconds. */
  segmentSeconds: number;
  /** Segments kept in the playlists. */
  windowSegments: number;
  /** CA file an rtmps:// server's certificate is checked against; null: the system's. */
  rtmpsCaFile: string | null;
}

export type OutputState = BroadcastOutputState;

/** What writeAudio is given each time. */
const AUDIO_FRAME_MS = 20;
/** A consumer of the encoded stream stops being fed when this much is waiting: it is stuck or gone. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** The pictures of a broadcast: its view, composed from the members' decoded video. */
export interface BroadcastVideo {
  view: View;
  pictures: PictureSource;
}

/**
 * One room's broadcast: a compositor of the broadcast view and the full audio mix, encoded once into
 * H.264 + AAC (MPEG-TS), then copied by one small FFmpeg per output: the RTMP push, the embedded HLS and
 * DASH, the recording. An audio-only room broadcasts its sound alone (AAC), as a radio would. An output
 * that fails (an RTMP server going away) is restarted with backoff on its own; the encoder and the other
 * outputs go on. A new view (someone joins) swaps the compositor only: the stream stays one stream.
 */
export class Broadcast {
  private readonly compositor: Compositor | undefined;
  private readonly encoder: SupervisedFfmpeg;
  private audio: Writable | undefined;
  /** The current encoder has had sound (and so a time zero for it). */
  private audioStarted = false;
  private encoderStarts = 0;
  private readonly outputs: BroadcastOutput[] = [];
  /** The low-latency HLS of the room, when asked for; its owner ends it (it may outlive this broadcast). */
  readonly lowLatencyHls: LowLatencyHls | undefined;

  /** `continuing`: the LL-HLS of the broadcast this one replaces, carried on after a discontinuity. */
  constructor(
    video: BroadcastVideo | null,
    targets: BroadcastTargets,
    log: Logger,
    continuing?: LowLatencyHls,
  ) {
    this.compositor = video ? new Compositor(video.view, video.pictures, { timeline: true }) : undefined;
    const audioIn = ['-f', 's16le', '-ar', '48000', '-ac', '1', '-i', video ? 'pipe:3' : 'pipe:0'];
    const audioOut = ['-c:a', 'aac', '-b:a', '96k', '-ar', '48000', '-ac', '1'];
    this.encoder = new SupervisedFfmpeg({
      name: 'broadcast encoder',
      log,
      args: [
        // Both on their own count from the same start: every frame slot (a compositor that draws each one)
        // and every 20 ms of the mix (an audio tick that catches up), so they stay together.
        ...(video ? [...canvasInputArgs(video.view), ...audioIn, ...h264Args(video.view)] : audioIn),
        ...audioOut,
        '-f', 'mpegts', '-muxdelay', '0', '-muxpreload', '0', '-flush_packets', '1', 'pipe:1',
      ],
      stdio: video ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
      onStart: (child) => {
        if (this.compositor) this.compositor.sink = pipeSink(child.stdin as Writable, this.compositor);
        this.audio = (video ? child.stdio[3] : child.stdin) as Writable;
        this.audioStarted = false;
        // A new encoder's timestamps start again: LL-HLS begins anew too (a discontinuity, a new init
        // segment) rather than let a segment run past its target duration into the jump.
        if (this.encoderStarts++ > 0) this.outputs.find((output) => output.kind === 'll-hls')?.ffmpeg.process?.kill('SIGKILL');
        (child.stdout as Readable).on('data', (chunk: Buffer) => this.fanOut(chunk));
      },
    });
    const add = (kind: OutputState['kind'], target: string, args: string[], packager?: LowLatencyHls): void =>
      void this.outputs.push(new BroadcastOutput(kind, target, args, log, packager));
    if (targets.rtmp) {
      // FFmpeg does not check a TLS server's certificate unless told to: the stream key would go to anyone.
      const tls = targets.rtmp.startsWith('rtmps:') ? ['-tls_verify', '1', ...(targets.rtmpsCaFile ? ['-ca_file', targets.rtmpsCaFile] : [])] : [];
      add('rtmp', targets.rtmp, ['-bsf:a', 'aac_adtstoasc', '-f', 'flv', '-flvflags', 'no_duration_filesize', ...tls, targets.rtmp]);
    }
    // LL-HLS alone writes nothing there.
    if (targets.hlsDir && (targets.dash || !targets.lowLatency)) prepareDir(targets.hlsDir);
    if (targets.hlsDir && targets.lowLatency) {
      this.lowLatencyHls =
        continuing ??
        new LowLatencyHls({
          segmentSeconds: targets.segmentSeconds,
          partSeconds: partSecondsFor(video?.view.fps),
          windowSegments: targets.windowSegments,
        });
      // FFmpeg cuts a fragment at (nearly) every packet; the packager gathers them into parts. delay_moov:
      // the init segment waits for the first packets, so the AAC config in it is the real one.
      add('ll-hls', `${targets.hlsDir}/index.m3u8`, [
        ...(video ? ['-tag:v', 'avc1'] : []), '-tag:a', 'mp4a', '-bsf:a', 'aac_adtstoasc', '-f', 'mp4',
        '-movflags', '+empty_moov+delay_moov+default_base_moof', '-frag_duration', '1', '-flush_packets', '1', 'pipe:1',
      ], this.lowLatencyHls);
    } else if (targets.hlsDir) {
      add('hls', `${targets.hlsDir}/index.m3u8`, [
        '-f', 'hls', '-hls_time', String(targets.segmentSeconds), '-hls_list_size', String(targets.windowSegments),
        '-hls_flags', 'delete_segments+independent_segments+omit_endlist+temp_file', '-hls_start_number_source', 'epoch',
        '-hls_segment_filename', `${targets.hlsDir}/segment-%d.ts`, `${targets.hlsDir}/index.m3u8`,
      ]);
    }
    if (targets.hlsDir && targets.dash) {
      add('dash', `${targets.hlsDir}/index.mpd`, [
        // MPEG-TS tags H.264 as 0x1b; MP4 fragments want avc1/mp4a.
        ...(video ? ['-tag:v', 'avc1'] : []), '-tag:a', 'mp4a', '-bsf:a', 'aac_adtstoasc', '-f', 'dash', '-seg_duration', String(targets.segmentSeconds), '-window_size', String(targets.windowSegments),
        '-extra_window_size', '2', '-streaming', '1', '-remove_at_exit', '1', '-use_template', '1', '-use_timeline', '1',
        '-init_seg_name', 'dash-init-$RepresentationID$.m4s', '-media_seg_name', 'dash-$RepresentationID$-$Number$.m4s',
        `${targets.hlsDir}/index.mpd`,
      ]);
    }
    if (targets.record) {
      mkdirSync(dirname(targets.record), { recursive: true });
      // Fragmented MP4: playable to the last fragment even if the process is killed. delay_moov: the header
      // waits for the first packets, or it would describe the AAC without its configuration (as stereo).
      add('record', targets.record, ['-bsf:a', 'aac_adtstoasc', '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+delay_moov+default_base_moof', '-y', targets.record]);
    }
  }

  /** A new broadcast view (members joined or left): same compositor and encoder, so the timeline goes on. */
  setView(view: View): void {
    if (this.compositor) this.compositor.view = view;
  }

  /**
   * 20 ms of the full mix (everyone), 48 kHz mono, just mixed. The encoder counts samples and frames as
   * time from its start, so both must start at the same instant: sound waits for the first picture, and
   * its first 20 ms are put where they were heard, after a silence as long as the picture ran alone.
   */
  writeAudio(samples: Int16Array): void {
    const audio = this.audio;
    if (!audio || audio.writableLength > MAX_PENDING_BYTES) return;
    if (!this.audioStarted && this.compositor) {
      const pictureStart = this.compositor.firstFrameAt;
      if (pictureStart === undefined) return;
      const leadSamples = Math.round(((performance.now() - pictureStart - AUDIO_FRAME_MS) * 48_000) / 1000);
      if (leadSamples > 0) audio.write(Buffer.alloc(leadSamples * 2));
    }
    this.audioStarted = true;
    audio.write(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  }

  /** false for the sound of an audio-only room. */
  get hasVideo(): boolean {
    return this.compositor !== undefined;
  }

  get encoderPid(): number | undefined {
    return this.encoder.pid;
  }

  get framesRendered(): number {
    return this.compositor?.framesRendered ?? 0;
  }

  get framesDropped(): number {
    return this.compositor?.framesDropped ?? 0;
  }

  outputStates(): OutputState[] {
    return this.outputs.map((output) => output.state());
  }

  outputPids(): number[] {
    return this.outputs.map((output) => output.ffmpeg.pid).filter((pid): pid is number => pid !== undefined);
  }

  /**
   * Drains the encoder first (its inputs end, it writes out what it holds), so the outputs see the whole
   * stream end and finish their files.
   */
  async close(): Promise<void> {
    this.compositor?.stop();
    await this.encoder.stop(3000, true);
    await Promise.all(this.outputs.map((output) => output.ffmpeg.stop(5000, true)));
  }

  private fanOut(chunk: Buffer): void {
    for (const output of this.outputs) {
      if (output.stdin && output.stdin.writableLength < MAX_PENDING_BYTES) output.stdin.write(chunk);
    }
  }
}

/** H.264 for players: a keyframe a second, so segments of 1 s can start on one. */
/** FFmpeg's input of raw canvases from the compositor. */
function canvasInputArgs(view: View): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${view.canvas.width}x${view.canvas.height}`, '-r', String(view.fps), '-i', 'pipe:0'];
}

/** Canvases into an encoder's stdin, as long as no more than the compositor's backlog waits in the pipe. */
function pipeSink(stdin: Writable, compositor: Compositor): CanvasSink {
  const limit = compositor.backlog * pictureBytes(compositor.view.canvas);
  return {
    get ready() {
      return stdin.writableLength < limit;
    },
    write: (canvas) => void stdin.write(canvas),
  };
}

function h264Args(view: View): string[] {
  const gop = String(view.fps);
  return [
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-b:v', `${Math.max(view.videoBitrateKbps, 300)}k`, '-threads', '1',
  ];
}

/** Parts of about this long: LL-HLS players stay three of them behind the live edge. */
const PART_SECONDS = 0.2;
/** AAC frames are 1024 samples at 48 kHz. */
const AAC_FRAME_SECONDS = 1024 / 48000;

/** The part target: a whole number of frames (pictures, or AAC frames in a sound-only room), none longer. */
export function partSecondsFor(fps: number | undefined): number {
  const frame = fps ? 1 / fps : AAC_FRAME_SECONDS;
  return Math.ceil(PART_SECONDS / frame - 1e-9) * frame;
}

/**
 * One copy of the encoded stream into a target, restarted with backoff when it fails. With a packager, the
 * copy is a fragmented MP4 on stdout that the packager turns into LL-HLS.
 */
class BroadcastOutput {
  stdin: Writable | undefined;
  readonly ffmpeg: SupervisedFfmpeg;

  constructor(
    readonly kind: OutputState['kind'],
    readonly target: string,
    args: string[],
    log: Logger,
    packager?: LowLatencyHls,
  ) {
    this.ffmpeg = new SupervisedFfmpeg({
      name: `broadcast ${kind}`,
      log,
      args: ['-f', 'mpegts', '-i', 'pipe:0', '-c', 'copy', '-map', '0', ...args],
      stdio: ['pipe', packager ? 'pipe' : 'ignore', 'pipe'],
      onStart: (child) => {
        this.stdin = child.stdin as Writable;
        child.once('exit', () => (this.stdin = undefined));
        if (!packager) return;
        packager.restart();
        let corrupt = false;
        (child.stdout as Readable).on('data', (chunk: Buffer) => {
          if (corrupt) return;
          try {
            packager.push(chunk);
          } catch (error) {
            corrupt = true;
            if (error instanceof Fmp4Error) log.error({ err: error }, 'broadcast ll-hls: the fragmented MP4 is corrupt; restarting its FFmpeg');
            else reportInternalError(log, error, 'broadcast');
            child.kill('SIGKILL');
          }
        });
      },
    });
  }

  state(): OutputState {
    return { kind: this.kind, target: this.target, running: this.stdin !== undefined, restarts: this.ffmpeg.restarts };
  }
}

/** A fresh folder for the embedded HLS/DASH of a room: old segments would confuse players. */
function prepareDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

/** Fills ${conference_name}, ${dev_id} and ${time} (UTC, 20260102-150405) in a broadcast target. */
export function fillTemplate(template: string, values: { room: string; devId: number; now?: Date }): string {
  const time = (values.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return template.replace(/\$\{(conference_name|dev_id|time)\}/g, (_, name: string) =>
    name === 'conference_name' ? values.room : name === 'dev_id' ? String(values.devId) : time,
  );
}
