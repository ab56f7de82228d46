import type { CanvasSize } from '../../../src/domain.js';
import { even, type Layout, type Rect } from './layout.js';

/** Everyone, the subscriber included, in columns = ceil(sqrt(n)), the last row centred. One view for all. */
export const grid: Layout = {
  visible: ({ candidates }) => [...candidates],
  tiles: gridTiles,
};

export function gridTiles(count: number, canvas: CanvasSize): Rect[] {
  if (count <= 0) return [];
  const columns = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / columns);
  const width = even(canvas.width / columns);
  const height = even(canvas.height / rows);
  const rects: Rect[] = [];
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / columns);
    const inRow = row === rows - 1 ? count - row * columns : columns;
    const offset = even((canvas.width - inRow * width) / 2);
    rects.push({ x: offset + (i % columns) * width, y: row * height, width, height });
  }
  return rects;
}
