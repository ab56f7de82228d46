import type { CanvasSize } from '../../src/domain.js';
import type { Rect } from './layouts/index.js';

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

/**
 * Draws a picture into a tile by copying rows. Decoders scale each picture to its tile's size; a picture of
 * another size (a layout changed a moment ago) is centred, cropped where larger and framed where smaller,
 * until the decoder's next picture fits.
 */
export function drawPicture(canvas: Buffer, size: CanvasSize, rect: Rect, picture: Picture): void {
  const width = Math.min(rect.width, picture.width);
  const height = Math.min(rect.height, picture.height);
  if (width < rect.width || height < rect.height) fillRect(canvas, size, rect, BLACK);
  const to = { x: rect.x + even((rect.width - width) / 2), y: rect.y + even((rect.height - height) / 2) };
  const from = { x: even((picture.width - width) / 2), y: even((picture.height - height) / 2) };
  const source = picture.data;
  for (let row = 0; row < height; row++) {
    const start = (from.y + row) * picture.width + from.x;
    source.copy(canvas, (to.y + row) * size.width + to.x, start, start + width);
  }
  const planes = [
    { target: size.width * size.height, source: picture.width * picture.height },
    { target: (size.width * size.height * 5) / 4, source: (picture.width * picture.height * 5) / 4 },
  ];
  for (const plane of planes) {
    for (let row = 0; row < height / 2; row++) {
      const start = plane.source + (from.y / 2 + row) * (picture.width / 2) + from.x / 2;
      source.copy(canvas, plane.target + (to.y / 2 + row) * (size.width / 2) + to.x / 2, start, start + width / 2);
    }
  }
}

const even = (value: number): number => Math.floor(value / 2) * 2;

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
