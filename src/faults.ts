import type { Logger } from 'pino';

/**
 * Internal errors: what an entry point's error boundary caught that was not the client's fault (a bug of
 * ours). Counted process-wide so /metrics can show them (`cometmcu_internal_errors_total`) and tests can
 * fail when any fired; every boundary reports here instead of swallowing.
 */
const byBoundary = new Map<string, number>();

export function reportInternalError(log: Logger, error: unknown, boundary: string): void {
  byBoundary.set(boundary, (byBoundary.get(boundary) ?? 0) + 1);
  log.error({ err: error, boundary }, 'internal error');
}

/** Counts so far, by boundary (socket, request, upgrade, datagram, timer, process…). */
export function internalErrorCounts(): ReadonlyMap<string, number> {
  return byBoundary;
}

export function internalErrorTotal(): number {
  let total = 0;
  for (const count of byBoundary.values()) total += count;
  return total;
}
