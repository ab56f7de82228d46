import type { Writable } from 'node:stream';
import type { UserId, View } from '../src/domain.js';
import { fixedRate } from './clock.js';
import { BLACK, drawPicture, drawPlaceholder, fillRect, pictureBytes, type Picture } from './frames.js';
import { tileRects } from './layout.js';

/** Where a compositor gets each member's latest picture; undefined draws the placeholder. */
export type PictureSource = (userId: UserId) => Picture | undefined;

/** Seconds of canvases a broadcast's compositor lets wait for its encoder (its start-up, a busy moment). */
const TIMELINE_BACKLOG_SECONDS = 2;

/**
 * Draws a view at its frame rate, on its own clock: every visible member's latest picture into a canvas,
 * written to an encoder's stdin. A member who stops sending keeps their last picture; nothing here waits
 * for any member, and an encoder that falls behind loses frames instead of building up latency.
 */
export class Compositor {
  framesRendered = 0;
  framesDropped = 0;
  /** When (performance.now()) the first canvas went to the current output: its encoder's time zero. */
  firstFrameAt: number | undefined;
  private target: Writable | undefined;
  private readonly backlogFrames: number;
  private readonly canvases: Buffer[];
  private canvasIndex = 0;
  private readonly stopTicks: () => void;

  /**
   * A view keeps its backlog small and skips the slots a busy process missed: latency matters more than
   * every frame. A broadcast (`timeline`) keeps seconds of backlog and draws every slot, late if it must:
   * its encoder counts frames as time, so a skipped slot would put the picture ahead of the sound.
   */
  constructor(
    view: View,
    private readonly pictures: PictureSource,
    options: { timeline?: boolean } = {},
  ) {
    this.view = view;
    this.backlogFrames = options.timeline ? TIMELINE_BACKLOG_SECONDS * view.fps : 2;
    // Canvases rotate: a write to a pipe keeps a reference until the pipe has taken it.
    this.canvases = Array.from({ length: this.backlogFrames + 1 }, () => Buffer.alloc(pictureBytes(view.canvas)));
    this.stopTicks = fixedRate(1000 / view.fps, () => this.render(), { catchUp: options.timeline ?? false, maxCatchUp: view.fps });
  }

  /** What is drawn from the next frame on; a new view of the same canvas and rate (a broadcast's after a join). */
  view: View;

  /** Where canvases go; replaced when the encoder restarts. */
  get output(): Writable | undefined {
    return this.target;
  }

  set output(output: Writable | undefined) {
    this.target = output;
    this.firstFrameAt = undefined;
  }

  stop(): void {
    this.stopTicks();
  }

  private render(): void {
    if (!this.output || this.output.writableLength >= this.backlogFrames * this.canvases[0]!.length) {
      this.framesDropped++;
      return;
    }
    // The encoder's time zero is this slot, not the moment drawing it ended.
    this.firstFrameAt ??= performance.now();
    const canvas = this.canvases[this.canvasIndex]!;
    this.canvasIndex = (this.canvasIndex + 1) % this.canvases.length;
    const { canvas: size, layout, visible } = this.view;
    const rects = tileRects(layout, visible.length, size);
    fillRect(canvas, size, { x: 0, y: 0, ...size }, BLACK);
    visible.forEach((userId, index) => {
      const rect = rects[index]!;
      const picture = this.pictures(userId);
      if (picture) drawPicture(canvas, size, rect, picture);
      else drawPlaceholder(canvas, size, rect, userId);
    });
    this.output.write(canvas);
    this.framesRendered++;
  }
}
