/**
 * Calls `tick` every `intervalMs`, on a grid measured from the start so timer drift never accumulates
 * (a late tick is followed by an early one, not by a shifted schedule). Returns a function that stops it.
 */
export function fixedRate(intervalMs: number, tick: () => void): () => void {
  const startedAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (): void => {
    if (stopped) return;
    tick();
    const next = startedAt + (Math.floor((performance.now() - startedAt) / intervalMs) + 1) * intervalMs;
    timer = setTimeout(run, Math.max(0, next - performance.now()));
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
