import { appendFile, readdir, readFile, rename, rm, rmdir, stat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { reportInternalError } from '../../src/faults.js';
import { SampledLog } from '../../src/log.js';
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
 * so players stop instead of reloading it for ever, and the folder goes `keepMs` after its last change
 * (and its `<dev_id>` folder once empty). Looked at every few seconds rather than told when a room ends:
 * a folder left by a crash or a restart ends the same way, and a broadcast replaced by another (new
 * settings) is never ended by mistake.
 */
export class EndedBroadcasts {
  private readonly timer: NodeJS.Timeout;
  private readonly warnings: SampledLog;
  private sweeping = false;

  constructor(
    private readonly root: string,
    private readonly keepMs: number,
    private readonly liveRooms: () => LiveRoom[],
    private readonly log: Logger,
  ) {
    this.warnings = new SampledLog(log);
    this.timer = setInterval(() => void this.sweepOnce(), SWEEP_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** One sweep at a time; the disk's failures are warnings, anything else a bug of ours. */
  private async sweepOnce(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.sweep();
    } catch (error) {
      if (isSystemError(error)) this.warnings.warn('sweep', { err: error }, "cannot end an ended broadcast's files");
      else reportInternalError(this.log, error, 'broadcast sweep');
    } finally {
      this.sweeping = false;
    }
  }

  /** Folders written by a live room now. Asked again before every change: a broadcast may start meanwhile. */
  private isWritten(devId: string, room: string): boolean {
    return this.liveRooms().some(
      (live) => String(live.devId) === devId && live.room === room && live.broadcast.some((output) => output.kind === 'hls' || output.kind === 'dash'),
    );
  }

  private async sweep(): Promise<void> {
    for (const devId of await entries(this.root)) {
      const rooms = await entries(join(this.root, devId));
      for (const room of rooms) {
        if (this.isWritten(devId, room)) continue;
        try {
          await this.end(devId, room);
        } catch (error) {
          // FFmpeg may still be removing its files as it drains; the disk failing one folder spares the others.
          if (!isSystemError(error)) throw error;
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.warnings.warn('sweep', { err: error, devId, room }, "cannot end an ended broadcast's files");
        }
      }
      // A dev_id's folder goes with its last room; a broadcast that makes it again meanwhile keeps it (ENOTEMPTY).
      if ((await entries(join(this.root, devId))).length === 0) {
        await rmdir(join(this.root, devId)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT' && error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
        });
      }
    }
  }

  private async end(devId: string, room: string): Promise<void> {
    const dir = join(this.root, devId, room);
    const files = await readdir(dir);
    let lastChange = (await stat(dir)).mtimeMs;
    // One at a time, in a loop: a folder of any size.
    for (const file of files) lastChange = Math.max(lastChange, (await stat(join(dir, file)).catch(ignoreGone))?.mtimeMs ?? 0);
    if (Date.now() - lastChange >= this.keepMs) {
      if (this.isWritten(devId, room)) return;
      // Moved aside at once, then removed: a broadcast of the room that starts meanwhile gets its folder back.
      const aside = join(this.root, devId, `.ended-${process.pid}-${Date.now()}-${room}`);
      await rename(dir, aside);
      if (this.isWritten(devId, room)) await mkdir(dir, { recursive: true });
      await rm(aside, { recursive: true, force: true });
      return;
    }
    if (!files.includes(PLAYLIST)) return;
    const playlist = await readFile(join(dir, PLAYLIST), 'utf8');
    if (playlist.includes('#EXT-X-ENDLIST') || this.isWritten(devId, room)) return;
    await appendFile(join(dir, PLAYLIST), `${playlist.endsWith('\n') ? '' : '\n'}#EXT-X-ENDLIST\n`);
  }
}

function ignoreGone(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}

/** An error of the file system (it has an errno code and a syscall), not of our code. */
function isSystemError(error: unknown): boolean {
  const { code, syscall } = (error ?? {}) as NodeJS.ErrnoException;
  return typeof code === 'string' && typeof syscall === 'string';
}

/** The names in a folder; none when it is gone (or was never made). */
async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw error;
  }
}
