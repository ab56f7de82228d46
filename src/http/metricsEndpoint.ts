import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Metrics } from '../metrics.js';
import { isLoopbackAddress, requestAddress } from '../net.js';
import { sendText, type RequestHandler } from './server.js';

/**
 * /metrics, which tells how busy each tenant is: with [http] metrics_token only for `Authorization: Bearer
 * <token>`, without one only for clients on this machine. Behind a reverse proxy on the same machine, the
 * client is the one the proxy forwarded (X-Forwarded-For): a proxy that does not say so makes every client
 * look local, so set a token there.
 */
export function serveMetrics(metrics: Metrics, token: string): RequestHandler {
  const expected = token ? digest(token) : undefined;
  return async (request, response) => {
    if (expected && !carries(request, expected)) {
      response.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      return sendText(response, 401, 'a bearer token is required\n');
    }
    if (!expected && !isLoopbackAddress(requestAddress(request))) return sendText(response, 403, 'only for this machine\n');
    sendText(response, 200, await metrics.registry.metrics(), metrics.registry.contentType);
  };
}

/** Compared as digests: equal lengths, in constant time. */
function carries(request: IncomingMessage, expected: Buffer): boolean {
  const given = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  return given !== undefined && timingSafeEqual(digest(given), expected);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
