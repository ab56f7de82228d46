import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { reportInternalError } from '../faults.js';
import { listenOn } from '../net.js';
import { TlsCertificate, type TlsFiles } from './tls.js';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse, url: URL) => void | Promise<void>;
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

interface Route<T> {
  prefix: boolean;
  path: string;
  handler: T;
}

/**
 * The HTTP listener on the [ws] port (HTTPS and WSS only, when given TLS files): plain routes (/info,
 * /metrics, static files) and WebSocket upgrades (/ws/, /sip) registered by the layers that own them.
 * Exact paths win over prefixes. Each request and each upgrade is its own error boundary: whatever it
 * throws answers or closes that one client, and what is not the client's fault is reported as an
 * internal error.
 */
export class HttpServer {
  private readonly server: Server | HttpsServer;
  private readonly routes: Route<RequestHandler>[] = [];
  private readonly upgrades: Route<UpgradeHandler>[] = [];
  /** The certificate served, with TLS. */
  readonly certificate: TlsCertificate | undefined;

  /** With `tls`, a certificate or key that cannot be used throws a ConfigError naming its file. */
  constructor(
    private readonly log: Logger,
    tls?: TlsFiles,
  ) {
    const onRequest: RequestListener = (request, response) => {
      this.dispatch(request, response).catch((error: unknown) => this.failed(response, error));
    };
    this.certificate = tls && TlsCertificate.read(tls);
    this.server = this.certificate ? createHttpsServer(this.certificate.contextOptions, onRequest) : createServer(onRequest);
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head));
    this.server.on('clientError', (_error, socket) => socket.destroy());
  }

  /** `path` ending in `/` matches everything below it. */
  get(path: string, handler: RequestHandler): void {
    this.routes.push({ path, prefix: path.endsWith('/'), handler });
  }

  onUpgrade(path: string, handler: UpgradeHandler): void {
    this.upgrades.push({ path, prefix: path.endsWith('/'), handler });
  }

  get secure(): boolean {
    return this.certificate !== undefined;
  }

  /**
   * Reads the TLS files again for the connections to come; open ones are left as they are. False (and one
   * error logged) when they cannot be used: the old certificate is still served. False without TLS.
   */
  reloadCertificate(): boolean {
    // With a certificate, the server is the HTTPS one.
    return this.certificate?.reload(this.server as HttpsServer, this.log) ?? false;
  }

  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // Writing after the end is a bug of ours, and must not take the process down with it.
    response.on('error', (error) => reportInternalError(this.log, error, 'request'));
    const url = requestUrl(request);
    if (!url) return sendText(response, 400, 'bad request target\n');
    const route = match(this.routes, url.pathname);
    if (!route || (request.method !== 'GET' && request.method !== 'HEAD')) {
      sendText(response, route ? 405 : 404, route ? 'method not allowed\n' : 'not found\n');
      return;
    }
    await route.handler(request, response, url);
  }

  /** What a request threw answers that request alone. */
  private failed(response: ServerResponse, error: unknown): void {
    // A path with broken %-escapes is the client's mistake, not ours.
    const clients = error instanceof URIError;
    if (!clients) reportInternalError(this.log, error, 'request');
    if (response.headersSent) response.destroy();
    else if (clients) sendText(response, 400, 'bad URL\n');
    else sendText(response, 500, 'internal server error\n');
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const url = requestUrl(request);
    const route = url && match(this.upgrades, url.pathname);
    if (!route) {
      socket.end(url ? 'HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    try {
      route.handler(request, socket, head, url);
    } catch (error) {
      reportInternalError(this.log, error, 'upgrade');
      socket.destroy();
    }
  }
}

/**
 * The request target as a URL below us, or undefined when it cannot be one. An absolute-form target
 * (`GET http://host:port/path`, RFC 9112 3.2.2) counts by its path and query only, whatever authority it
 * names. Leading slashes are folded: CppComet pages connect to `//ws/…`, which URL would read as a host name.
 */
function requestUrl(request: IncomingMessage): URL | undefined {
  const target = (request.url ?? '/').replace(/^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i, '').replace(/^\/{2,}/, '/');
  try {
    return new URL(target || '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

function match<T>(routes: Route<T>[], path: string): Route<T> | undefined {
  return routes.find((r) => !r.prefix && r.path === path) ?? routes.find((r) => r.prefix && path.startsWith(r.path));
}

export function sendText(response: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendText(response, status, `${JSON.stringify(body)}\n`, 'application/json');
}
