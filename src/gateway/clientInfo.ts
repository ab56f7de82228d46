import type { IncomingMessage } from 'node:http';
import type { ClientInfo } from '../messaging/frames.js';
import { isLoopbackAddress } from '../net.js';

/** users_in_pipes shows these, as CppComet took them from the upgrade request. */
export function clientInfo(request: IncomingMessage): ClientInfo {
  const header = (name: string): string => String(request.headers[name] ?? '').slice(0, 255);
  return {
    userAgent: header('user-agent'),
    ip: clientAddress(request.socket.remoteAddress ?? '', request.headers['x-forwarded-for']),
    origin: header('origin'),
    language: header('accept-language'),
  };
}

/**
 * The browser's address, which budgets and login throttling go by. Through a proxy on this machine (the
 * TLS proxy browsers need), every peer is the proxy: the address is then the one the proxy saw, the last
 * of X-Forwarded-For. A peer from elsewhere cannot pass for another address this way.
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined): string {
  if (!forwardedFor || !isLoopbackAddress(peer)) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  return hops[hops.length - 1]!.trim().slice(0, 64) || peer;
}
