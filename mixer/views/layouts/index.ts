import type { CanvasSize, LayoutName } from '../../../src/domain.js';
import { grid } from './grid.js';
import type { Layout, Rect } from './layout.js';
import { personal } from './personal.js';
import { single } from './single.js';
import { speaker } from './speaker.js';

export type { Rect } from './layout.js';

export const LAYOUTS: Readonly<Record<LayoutName, Layout>> = { grid, personal, speaker, single };

/** Where each visible member is drawn, in the order of `View.visible`. */
export function tileRects(layout: LayoutName, count: number, canvas: CanvasSize): Rect[] {
  return LAYOUTS[layout].tiles(count, canvas);
}
