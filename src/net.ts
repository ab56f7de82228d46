import type { IncomingMessage } from 'node:http';
import { isIP, type Server } from 'node:net';

/** True for addresses that only this machine can reach: 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackAddress(address: string): boolean {
  const host = address.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (host.startsWith('::ffff:')) return isLoopbackAddress(host.slice(7));
  return host === '::1';
}

/**
 * A client's address, which budgets, login throttling and viewer counts go by, for every front (comet
 * WebSocket, SIP over WebSocket, HLS). Through a proxy on this machine (the TLS proxy browsers need), every
 * peer is the proxy: the address is then the one the proxy saw, the last of X-Forwarded-For. A peer from
 * elsewhere cannot pass for another address this way.
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined): string {
  if (!forwardedFor || !isLoopbackAddress(peer)) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  return hops[hops.length - 1]!.trim().slice(0, 64) || peer;
}

/** clientAddress of an HTTP request or WebSocket upgrade; IPv4 without its `::ffff:` prefix. */
export function requestAddress(request: IncomingMessage): string {
  return clientAddress((request.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/, ''), request.headers['x-forwarded-for']);
}

/** Binds a server; resolves with the port it got (the one asked for, or a free one for port 0). */
export async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
