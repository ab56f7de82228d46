import type { CanvasSize, SpeakerState, UserId } from '../../../src/domain.js';

/** A tile of the canvas, in pixels; even numbers, since the canvas is yuv420p. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What a layout decides who is shown from. */
export interface Audience {
  /** Who the view is for. */
  subscriber: UserId;
  /** Members who may be shown (everyone who sends, or the subscriber's watch list), in room order. */
  candidates: readonly UserId[];
  /** The subscriber's watch list, when it names someone present. */
  watched: readonly UserId[] | undefined;
  speakers: SpeakerState;
}

/**
 * A layout: who is shown and where. Every picture fills its tile (scaled to cover, then centre-cropped),
 * so all layouts crop the same way.
 */
export interface Layout {
  /** Who is shown, in tile order. */
  visible(audience: Audience): UserId[];
  /** Where each of `count` visible members is drawn, in the same order. */
  tiles(count: number, canvas: CanvasSize): Rect[];
}

export const even = (value: number): number => Math.floor(value / 2) * 2;

/** The whole canvas: one tile. */
export const fullCanvas = (canvas: CanvasSize): Rect => ({ x: 0, y: 0, width: canvas.width, height: canvas.height });
