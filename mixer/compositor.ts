import type { Writable } from 'node:stream';
import type { UserId, View } from '../src/domain.js';
import { fixedRate } from './clock.js';
import { BLACK, drawPicture, drawPlaceholder, fillRect, pictureBytes, type Picture } from './frames.js';
import { tileRects } from './layout.js';

/** Where a compositor gets each member's latest picture; undefined draws the placeholder. */
export type PictureSource = (userId: UserId) => Picture | undefined;

/**
 * Draws a view at its frame rate, on its own clock: every visible member's latest picture into a canvas,
 * written to an encoder's stdin. A member who stops sending keeps their last picture; nothing here waits
 * for any member, and an encoder that falls behind loses frames instead of building up latency.
 */
export class Compositor {
  framesRendered = 0;
  framesDropped = 0;
  /** Where canvases go; replaced when the encoder restarts. */
  output: Writable | undefined;
  private readonly canvases: Buffer[];
  private canvasIndex = 0;
  private readonly stopTicks: () => void;

  /**
   * `backlogFrames`: canvases that may wait for the encoder before frames are dropped. Views keep it small
   * (latency matters more than every frame); a broadcast keeps seconds of them, so its picture never falls
   * behind its sound while the encoder starts.
   */
  constructor(
    readonly view: View,
    private readonly pictures: PictureSource,
    private readonly backlogFrames = 2,
  ) {
    // Canvases rotate: a write to a pipe keeps a reference until the pipe has taken it.
    this.canvases = Array.from({ length: backlogFrames + 1 }, () => Buffer.alloc(pictureBytes(view.canvas)));
    this.stopTicks = fixedRate(1000 / view.fps, () => this.render());
  }

  stop(): void {
    this.stopTicks();
  }

  private render(): void {
    if (!this.output || this.output.writableLength >= this.backlogFrames * this.canvases[0]!.length) {
      this.framesDropped++;
      return;
    }
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
