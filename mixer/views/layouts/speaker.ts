import type { CanvasSize, UserId } from '../../../src/domain.js';
import { even, fullCanvas, type Audience, type Layout, type Rect } from './layout.js';

/**
 * The speaker full size, the others in a strip along the bottom edge. Everyone sees the active speaker but
 * the speaker, who sees the previous one: two views for any number of members.
 */
export const speaker: Layout = {
  visible(audience) {
    const main = mainSpeaker(audience);
    return main === undefined ? [] : [main, ...audience.candidates.filter((userId) => userId !== main)];
  },
  tiles: (count, canvas) => (count <= 0 ? [] : [fullCanvas(canvas), ...strip(count - 1, canvas)]),
};

/**
 * The member shown full size: the active speaker, except for the active speaker themself, who sees the
 * previous speaker. With nobody speaking yet, the first candidate other than the subscriber.
 */
export function mainSpeaker({ subscriber, candidates, speakers }: Audience): UserId | undefined {
  const present = (userId: UserId | null): userId is UserId => userId !== null && candidates.includes(userId);
  if (present(speakers.active) && speakers.active !== subscriber) return speakers.active;
  if (present(speakers.previous) && speakers.previous !== subscriber) return speakers.previous;
  return candidates.find((userId) => userId !== subscriber) ?? candidates[0];
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
