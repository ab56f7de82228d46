import { pino, type Logger } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Structured JSON logs on stdout, one object per line. Modules take `logger.child({ module })`.
 * Secrets (passwords, user hashes, query literals) are never passed to the logger; `redact` is the safety net.
 */
export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      level,
      base: { service: 'cometmcu' },
      redact: { paths: ['password', 'hash', '*.password', '*.hash', 'key', '*.key'], censor: '[secret]' },
    },
    // Synchronous: nothing is logged per query or packet at info, and an asynchronous stream reorders or
    // loses the last lines when the process exits.
    pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * A warning that hostile input can repeat at will (a flooding socket, garbage datagrams) is logged at most
 * once per `intervalMs` per kind; the next line says how many were left out. Never one line per packet.
 */
export class SampledLog {
  private readonly kinds = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    const seen = this.kinds.get(kind);
    if (seen && now - seen.loggedAt < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.log.warn({ ...fields, ...(seen?.suppressed ? { suppressed: seen.suppressed } : {}) }, message);
    this.kinds.set(kind, { loggedAt: now, suppressed: 0 });
    // Kinds are few (one per reason); the cap only guards against a caller that puts a client's value in one.
    if (this.kinds.size > 1000) this.kinds.clear();
  }
}
