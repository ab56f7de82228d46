import type { CanvasSize, LayoutName } from '../src/domain.js';

/** A tile of the canvas, in pixels; even numbers, since the canvas is yuv420p. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const even = (value: number): number => Math.floor(value / 2) * 2;

/**
 * Where each visible member is drawn, in the order of `View.visible`. Every picture fills its tile
 * (scaled to cover, then centre-cropped) so all layouts crop the same way.
 * - grid (and personal, which is a grid without the viewer): columns = ceil(sqrt(n)), the last row centred;
 * - speaker: the first member fills the canvas, the others sit in a strip along the bottom edge;
 * - single: the first member fills the canvas.
 */
export function tileRects(layout: LayoutName, count: number, canvas: CanvasSize): Rect[] {
  if (count <= 0) return [];
  switch (layout) {
    case 'single':
      return [{ x: 0, y: 0, width: canvas.width, height: canvas.height }];
    case 'speaker':
      return [{ x: 0, y: 0, width: canvas.width, height: canvas.height }, ...strip(count - 1, canvas)];
    case 'grid':
    case 'personal':
      return grid(count, canvas);
  }
}

function grid(count: number, canvas: CanvasSize): Rect[] {
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

/** Thumbnails of at most a fifth of the width, in one row at the bottom, centred. */
function strip(count: number, canvas: CanvasSize): Rect[] {
  if (count === 0) return [];
  const width = even(canvas.width / Math.max(5, count));
  const height = even((width * canvas.height) / canvas.width);
  const offset = even((canvas.width - count * width) / 2);
  const y = canvas.height - height;
  return Array.from({ length: count }, (_, i) => ({ x: offset + i * width, y, width, height }));
}
