import { fullCanvas, type Layout } from './layout.js';
import { mainSpeaker } from './speaker.js';

/** One member full size: the first the subscriber watches, else the speaker as the speaker layout picks them. */
export const single: Layout = {
  visible(audience) {
    const shown = audience.watched?.[0] ?? mainSpeaker(audience);
    return shown === undefined ? [] : [shown];
  },
  tiles: (count, canvas) => (count <= 0 ? [] : [fullCanvas(canvas)]),
};
