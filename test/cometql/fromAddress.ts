import { connect as tcpConnect, type Socket } from 'node:net';
import type { TestServer } from '../helpers/server.js';

/**
 * mysql2 options for a login from `address` (any of 127/8 is loopback): the login throttle keys failures
 * by address, so tests that fail logins on purpose do it from addresses of their own. mysql2 ignores its
 * localAddress option; a socket of our own carries it.
 */
export function fromAddress(server: TestServer, address: string): { stream: Socket } {
  return { stream: tcpConnect({ host: '127.0.0.1', port: server.cometqlPort, localAddress: address }) };
}
