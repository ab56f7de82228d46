import { gridTiles } from './grid.js';
import type { Layout } from './layout.js';

/** A grid of everyone but the subscriber: one view per member. */
export const personal: Layout = {
  visible: ({ subscriber, candidates }) => candidates.filter((userId) => userId !== subscriber),
  tiles: gridTiles,
};
