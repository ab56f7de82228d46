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
