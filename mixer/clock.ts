/**
 * Calls `tick` every `intervalMs` on a grid measured from the start, so timer drift never accumulates;
 * a timer that fires a little early (Node rounds to whole milliseconds) never causes a second tick for
 * the same slot. Slots missed while the process was busy are skipped (video: only the latest picture
 * matters), or with `catchUp` run late, up to `maxCatchUp` of them (audio: every 20 ms must be produced,
 * or the sound has holes).
 */
export function fixedRate(intervalMs: number, tick: () => void, options: { catchUp?: boolean; maxCatchUp?: number } = {}): () => void {
  const startedAt = performance.now();
  const maxCatchUp = options.maxCatchUp ?? 10;
  let slot = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (): void => {
    if (stopped) return;
    const due = Math.floor((performance.now() - startedAt) / intervalMs) + 1;
    const runs = options.catchUp ? Math.min(Math.max(1, due - slot), maxCatchUp) : 1;
    for (let i = 0; i < runs && !stopped; i++) tick();
    slot = Math.max(slot + 1, options.catchUp ? slot + runs : due);
    if (options.catchUp && due - slot > maxCatchUp) slot = due; // too far behind: give up the rest
    timer = setTimeout(run, Math.max(0, startedAt + slot * intervalMs - performance.now()));
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
