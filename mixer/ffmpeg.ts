import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';

/**
 * The FFmpeg binary: the system's (Debian's 5.1 has `amix normalize`, `xstack fill` and a faster x264),
 * else the one shipped by @ffmpeg-installer (a 2018 build, kept only as a fallback).
 */
export function ffmpegBinary(env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'ffmpeg');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  try {
    return (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    throw new Error('no ffmpeg: install Debian ffmpeg (apt-get install ffmpeg) or the @ffmpeg-installer/ffmpeg package');
  }
}

/** Every FFmpeg we started and have not reaped, so none outlives the server, whatever way it exits. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function liveFfmpegPids(): number[] {
  return [...live].map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
}

export interface SupervisedOptions {
  name: string;
  args: string[];
  stdio: StdioOptions;
  log: Logger;
  /** Called with each new child, first start and restarts alike, to attach its pipes. */
  onStart(child: ChildProcess): void;
}

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5000;
/** A child that ran this long was healthy: its next crash restarts without delay again. */
const HEALTHY_MS = 10_000;

/**
 * One FFmpeg process that is restarted when it dies (quickly at first, backing off if it keeps dying)
 * until stop() is called. Emits 'restart' after each restart.
 */
export class SupervisedFfmpeg extends EventEmitter<{ restart: [] }> {
  private child: ChildProcess | undefined;
  private stopped = false;
  private backoffMs = MIN_BACKOFF_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  restarts = 0;

  constructor(private readonly options: SupervisedOptions) {
    super();
    this.start();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get process(): ChildProcess | undefined {
    return this.child;
  }

  /**
   * Ends the process and stops restarting it: SIGTERM, then SIGKILL after a grace period. With `drain`,
   * its input pipes are closed first and it gets the grace period to finish on its own, so what it still
   * holds (the last frames of a recording) is written out; SIGTERM makes FFmpeg drop that.
   */
  async stop(graceMs = 1000, drain = false): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // A process blocked reading an idle pipe only notices SIGTERM at its next read: end the pipes too.
    for (const stream of [child.stdin, ...child.stdio.slice(3)]) (stream as NodeJS.WritableStream | null)?.end?.();
    const terminate = setTimeout(() => child.kill('SIGTERM'), drain ? graceMs : 0);
    const kill = setTimeout(() => child.kill('SIGKILL'), drain ? 2 * graceMs : graceMs);
    await exited;
    clearTimeout(terminate);
    clearTimeout(kill);
  }

  private start(): void {
    const { name, args, stdio, log } = this.options;
    const child = spawn(ffmpegBinary(), ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], { stdio });
    this.child = child;
    this.startedAt = Date.now();
    live.add(child);
    child.on('error', (error) => log.error({ err: error.message, name }, 'ffmpeg failed to start'));
    child.stderr?.on('data', (chunk: Buffer) => log.debug({ name, ffmpeg: chunk.toString().trim() }, 'ffmpeg says'));
    // A peer that goes away mid-write must not crash us with EPIPE.
    for (const stream of [child.stdin, child.stdout, ...(child.stdio.slice(3) as (NodeJS.WritableStream | null)[])]) {
      (stream as EventEmitter | null)?.on('error', () => {});
    }
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (this.stopped) return;
      log.warn({ name, code, signal }, 'ffmpeg died; restarting');
      if (Date.now() - this.startedAt > HEALTHY_MS) this.backoffMs = MIN_BACKOFF_MS;
      this.restartTimer = setTimeout(() => {
        if (this.stopped) return;
        this.restarts++;
        this.start();
        this.emit('restart');
      }, this.backoffMs);
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    });
    this.options.onStart(child);
  }
}
