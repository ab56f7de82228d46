import type { IncomingMessage } from 'node:http';
import type { ClientInfo } from '../messaging/frames.js';
import { requestAddress } from '../net.js';

/** users_in_pipes shows these, as CppComet took them from the upgrade request. */
export function clientInfo(request: IncomingMessage): ClientInfo {
  const header = (name: string): string => String(request.headers[name] ?? '').slice(0, 255);
  return {
    userAgent: header('user-agent'),
    ip: requestAddress(request),
    origin: header('origin'),
    language: header('accept-language'),
  };
}
