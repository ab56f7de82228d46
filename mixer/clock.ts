/**
 * Calls `tick` every `intervalMs` on a grid measured from the start, so timer drift never accumulates.
 * Ticks missed while the process was busy are skipped, not caught up; a timer that fires a little early
 * (Node rounds to whole milliseconds) never causes a second tick for the same slot.
 */
export function fixedRate(intervalMs: number, tick: () => void): () => void {
  const startedAt = performance.now();
  let slot = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (): void => {
    if (stopped) return;
    tick();
    slot = Math.max(slot + 1, Math.floor((performance.now() - startedAt) / intervalMs) + 1);
    timer = setTimeout(run, Math.max(0, startedAt + slot * intervalMs - performance.now()));
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
