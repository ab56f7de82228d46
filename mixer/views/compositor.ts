import type { CanvasSize, UserId, View } from '../../src/domain.js';
import { fixedRate } from '../clock.js';
import { BLACK, drawPicture, drawPlaceholder, fillRect, pictureBytes, type Picture } from './frames.js';
import { tileRects } from './layouts/index.js';

/** Where a compositor gets each member's latest picture at a tile's size; undefined draws the placeholder. */
export type PictureSource = (userId: UserId, size: CanvasSize) => Picture | undefined;

/** Where a compositor's canvases go: a view's encoder, or a broadcast's FFmpeg. */
export interface CanvasSink {
  /** It can take a canvas now; a busy sink makes the compositor skip the slot (or, on a timeline, wait). */
  readonly ready: boolean;
  /**
   * One canvas (I420) for the slot that began at `slotMs` (performance.now()). The compositor reuses the
   * buffer after `backlog` more canvases: a sink that keeps it longer copies it.
   */
  write(canvas: Buffer, slotMs: number): void;
}

/** Seconds of canvases a broadcast's compositor lets wait for its encoder (its start-up, a busy moment). */
const TIMELINE_BACKLOG_SECONDS = 2;

/**
 * Draws a view at its frame rate, on its own clock: every visible member's latest picture into a canvas,
 * given to a sink. A member who stops sending keeps their last picture; nothing here waits for any member,
 * and a sink that falls behind loses frames instead of building up latency.
 */
export class Compositor {
  framesRendered = 0;
  framesDropped = 0;
  /** When (performance.now()) the first canvas went to the current sink: its encoder's time zero. */
  firstFrameAt: number | undefined;
  /** How many canvases a sink may still hold while the compositor draws the next. */
  readonly backlog: number;
  private target: CanvasSink | undefined;
  private readonly canvases: Buffer[];
  private canvasIndex = 0;
  private readonly stopTicks: () => void;

  /**
   * A view skips the slots a busy process missed: latency matters more than every frame. A broadcast
   * (`timeline`) keeps seconds of backlog and draws every slot, late if it must: its encoder counts frames
   * as time, so a skipped slot would put the picture ahead of the sound.
   */
  constructor(
    view: View,
    private readonly pictures: PictureSource,
    options: { timeline?: boolean } = {},
  ) {
    this.view = view;
    this.backlog = options.timeline ? TIMELINE_BACKLOG_SECONDS * view.fps : 1;
    this.canvases = Array.from({ length: this.backlog + 1 }, () => Buffer.alloc(pictureBytes(view.canvas)));
    this.stopTicks = fixedRate(1000 / view.fps, () => this.render(), { catchUp: options.timeline ?? false, maxCatchUp: view.fps });
  }

  /** What is drawn from the next frame on: a new visible set or layout on the same canvas and rate. */
  view: View;

  /** Where canvases go; replaced when a broadcast's encoder restarts. */
  set sink(sink: CanvasSink | undefined) {
    this.target = sink;
    this.firstFrameAt = undefined;
  }

  stop(): void {
    this.stopTicks();
  }

  private render(): void {
    const sink = this.target;
    if (!sink?.ready) {
      this.framesDropped++;
      return;
    }
    // The encoder's time zero is this slot, not the moment drawing it ended.
    const slotMs = performance.now();
    this.firstFrameAt ??= slotMs;
    const canvas = this.canvases[this.canvasIndex]!;
    this.canvasIndex = (this.canvasIndex + 1) % this.canvases.length;
    const { canvas: size, layout, visible } = this.view;
    const rects = tileRects(layout, visible.length, size);
    fillRect(canvas, size, { x: 0, y: 0, ...size }, BLACK);
    visible.forEach((userId, index) => {
      const rect = rects[index]!;
      const picture = this.pictures(userId, rect);
      if (picture) drawPicture(canvas, size, rect, picture);
      else drawPlaceholder(canvas, size, rect, userId);
    });
    sink.write(canvas, slotMs);
    this.framesRendered++;
  }
}
