import type { CanvasSize } from '../src/domain.js';
import type { Rect } from './layout.js';

/** A raw picture in I420 (yuv420p): the Y plane, then U and V at half size. */
export interface Picture {
  width: number;
  height: number;
  data: Buffer;
}

export const pictureBytes = (size: CanvasSize): number => (size.width * size.height * 3) / 2;

/** YUV of a few colours (BT.601 limited range, as FFmpeg converts). */
export const BLACK = { y: 16, u: 128, v: 128 } as const;
const PLACEHOLDER_BACKGROUND = { y: 60, u: 128, v: 128 } as const;
const PLACEHOLDER_INK = { y: 200, u: 128, v: 128 } as const;

interface Yuv {
  y: number;
  u: number;
  v: number;
}

/** Fills a rectangle of a canvas with one colour. */
export function fillRect(canvas: Buffer, size: CanvasSize, rect: Rect, colour: Yuv): void {
  const { width } = size;
  const uOffset = size.width * size.height;
  const vOffset = uOffset + uOffset / 4;
  for (let row = rect.y; row < rect.y + rect.height; row++) canvas.fill(colour.y, row * width + rect.x, row * width + rect.x + rect.width);
  for (let row = rect.y / 2; row < (rect.y + rect.height) / 2; row++) {
    const start = row * (width / 2) + rect.x / 2;
    canvas.fill(colour.u, uOffset + start, uOffset + start + rect.width / 2);
    canvas.fill(colour.v, vOffset + start, vOffset + start + rect.width / 2);
  }
}

/** Source column/row for each destination column/row: scale to cover the tile, centre-crop the rest. */
const sampleMaps = new Map<string, { columns: Int32Array; rows: Int32Array }>();

function sampleMap(source: CanvasSize, width: number, height: number): { columns: Int32Array; rows: Int32Array } {
  const key = `${source.width}x${source.height}>${width}x${height}`;
  let map = sampleMaps.get(key);
  if (!map) {
    const scale = Math.max(width / source.width, height / source.height);
    const cropX = (source.width - width / scale) / 2;
    const cropY = (source.height - height / scale) / 2;
    const columns = Int32Array.from({ length: width }, (_, x) => Math.min(source.width - 1, Math.floor(cropX + (x + 0.5) / scale)));
    const rows = Int32Array.from({ length: height }, (_, y) => Math.min(source.height - 1, Math.floor(cropY + (y + 0.5) / scale)));
    if (sampleMaps.size > 256) sampleMaps.clear();
    map = { columns, rows };
    sampleMaps.set(key, map);
  }
  return map;
}

/**
 * Draws a picture into a tile. Decoders deliver pictures at tile size, so the usual path copies rows;
 * a picture of another size (a layout just changed) is scaled nearest-neighbour, cropped to fill.
 */
export function drawPicture(canvas: Buffer, size: CanvasSize, rect: Rect, picture: Picture): void {
  const uOffset = size.width * size.height;
  const vOffset = uOffset + uOffset / 4;
  const source = picture.data;
  const sourceU = picture.width * picture.height;
  const sourceV = sourceU + sourceU / 4;
  if (picture.width === rect.width && picture.height === rect.height) {
    for (let row = 0; row < rect.height; row++) {
      source.copy(canvas, (rect.y + row) * size.width + rect.x, row * rect.width, (row + 1) * rect.width);
    }
    const half = rect.width / 2;
    for (let row = 0; row < rect.height / 2; row++) {
      const target = (rect.y / 2 + row) * (size.width / 2) + rect.x / 2;
      source.copy(canvas, uOffset + target, sourceU + row * half, sourceU + (row + 1) * half);
      source.copy(canvas, vOffset + target, sourceV + row * half, sourceV + (row + 1) * half);
    }
    return;
  }
  const luma = sampleMap(picture, rect.width, rect.height);
  for (let row = 0; row < rect.height; row++) {
    const from = luma.rows[row]! * picture.width;
    const to = (rect.y + row) * size.width + rect.x;
    for (let x = 0; x < rect.width; x++) canvas[to + x] = source[from + luma.columns[x]!]!;
  }
  const chroma = sampleMap({ width: picture.width / 2, height: picture.height / 2 }, rect.width / 2, rect.height / 2);
  for (let row = 0; row < rect.height / 2; row++) {
    const from = chroma.rows[row]! * (picture.width / 2);
    const to = (rect.y / 2 + row) * (size.width / 2) + rect.x / 2;
    for (let x = 0; x < rect.width / 2; x++) {
      canvas[uOffset + to + x] = source[sourceU + from + chroma.columns[x]!]!;
      canvas[vOffset + to + x] = source[sourceV + from + chroma.columns[x]!]!;
    }
  }
}

/** 3x5 bitmaps of the digits, one string of 15 cells each. */
const DIGITS = [
  '111101101101111', '010110010010111', '111001111100111', '111001111001111', '101101111001001',
  '111100111001111', '111100111101111', '111001001001001', '111101111101111', '111101111001111',
];

/** What a member without video looks like: a grey tile with their user_id written large. */
export function drawPlaceholder(canvas: Buffer, size: CanvasSize, rect: Rect, userId: number): void {
  fillRect(canvas, size, rect, PLACEHOLDER_BACKGROUND);
  const text = String(userId);
  // Cells are even-sized squares so chroma stays aligned; the number spans at most 60 % of the tile.
  const cell = Math.max(2, Math.floor(Math.min((rect.width * 0.6) / (text.length * 4 - 1), (rect.height * 0.4) / 5) / 2) * 2);
  const textWidth = (text.length * 4 - 1) * cell;
  const left = rect.x + Math.floor((rect.width - textWidth) / 4) * 2;
  const top = rect.y + Math.floor((rect.height - 5 * cell) / 4) * 2;
  for (const [index, digit] of [...text].entries()) {
    const bitmap = DIGITS[Number(digit)]!;
    for (let cellIndex = 0; cellIndex < 15; cellIndex++) {
      if (bitmap[cellIndex] !== '1') continue;
      const x = left + (index * 4 + (cellIndex % 3)) * cell;
      const y = top + Math.floor(cellIndex / 3) * cell;
      fillRect(canvas, size, { x, y, width: cell, height: cell }, PLACEHOLDER_INK);
    }
  }
}
