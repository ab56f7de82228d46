import type { Logger } from 'pino';
import { reportInternalError } from './faults.js';

/**
 * The last boundary, for what no entry point caught: an exception or a rejection is logged and counted
 * (`cometmcu_internal_errors_total{boundary="process"}`, to alert on), and the process goes on. Every
 * socket, request, upgrade, datagram and timer has its own boundary, so what reaches this one is a bug in
 * one callback, already unwound; ending the process for it would drop every call of every room, the very
 * outage those boundaries exist to prevent. Installed only by the server process: tests keep failing on
 * anything unhandled.
 */
export function reportProcessErrors(log: Logger): void {
  process.on('uncaughtException', (error) => reportInternalError(log, error, 'process'));
  process.on('unhandledRejection', (reason) => reportInternalError(log, reason, 'process'));
}
