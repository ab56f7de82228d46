import { appendFileSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SampledLog } from '../src/log.js';
import type { OutputState } from './broadcast.js';

/** How often the folders are looked at: an ended room's playlist gets its EXT-X-ENDLIST within this. */
const SWEEP_MS = 2000;
const PLAYLIST = 'index.m3u8';

/** A live room, as the mixer's stats show it. */
export interface LiveRoom {
  devId: number;
  room: string;
  broadcast: OutputState[];
}

/**
 * The embedded HLS/DASH folders (`<root>/<dev_id>/<room>`) that no room writes any more: the room ended,
 * its settings changed, or an earlier run of the server left them. Their playlist ends (EXT-X-ENDLIST),
 * so players stop instead of reloading it for ever, and the folder goes `keepMs` after its last change.
 * Looked at every few seconds rather than told when a room ends: a folder left by a crash or a restart
 * ends the same way, and a broadcast replaced by another (new settings) is never ended by mistake.
 */
export class EndedBroadcasts {
  private readonly timer: NodeJS.Timeout;
  private readonly warnings: SampledLog;

  constructor(
    private readonly root: string,
    private readonly keepMs: number,
    private readonly liveRooms: () => LiveRoom[],
    log: Logger,
  ) {
    this.warnings = new SampledLog(log);
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /**
   * Synchronous on purpose: between the look at which rooms write their folders and the change to a
   * folder, no broadcast can start.
   */
  private sweep(): void {
    const written = new Set(
      this.liveRooms()
        .filter((live) => live.broadcast.some((output) => output.kind === 'hls' || output.kind === 'dash'))
        .map((live) => join(String(live.devId), live.room)),
    );
    for (const devId of entries(this.root)) {
      for (const room of entries(join(this.root, devId))) {
        if (written.has(join(devId, room))) continue;
        try {
          this.end(join(this.root, devId, room));
        } catch (error) {
          // FFmpeg may still be removing its files as it drains; anything else is the disk's, not a client's.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.warnings.warn('sweep', { err: error, devId, room }, 'cannot end an ended broadcast\'s files');
        }
      }
    }
  }

  private end(dir: string): void {
    const files = readdirSync(dir);
    const lastChange = Math.max(statSync(dir).mtimeMs, ...files.map((file) => statSync(join(dir, file)).mtimeMs));
    if (Date.now() - lastChange >= this.keepMs) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    if (!files.includes(PLAYLIST)) return;
    const playlist = readFileSync(join(dir, PLAYLIST), 'utf8');
    if (!playlist.includes('#EXT-X-ENDLIST')) appendFileSync(join(dir, PLAYLIST), `${playlist.endsWith('\n') ? '' : '\n'}#EXT-X-ENDLIST\n`);
  }
}

/** The names in a folder; none when it is gone (or was never made). */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
