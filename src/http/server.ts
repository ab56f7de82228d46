import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { listenOn } from '../net.js';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse, url: URL) => void | Promise<void>;
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

interface Route<T> {
  prefix: boolean;
  path: string;
  handler: T;
}

/**
 * The HTTP listener on the [ws] port: plain routes (/info, /metrics, static files) and WebSocket
 * upgrades (/ws/, /sip) registered by the layers that own them. Exact paths win over prefixes.
 */
export class HttpServer {
  private readonly server: Server;
  private readonly routes: Route<RequestHandler>[] = [];
  private readonly upgrades: Route<UpgradeHandler>[] = [];

  constructor(private readonly log: Logger) {
    this.server = createServer((request, response) => void this.dispatch(request, response));
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

  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestUrl(request);
    const route = match(this.routes, url.pathname);
    if (!route || (request.method !== 'GET' && request.method !== 'HEAD')) {
      sendText(response, route ? 405 : 404, route ? 'method not allowed\n' : 'not found\n');
      return;
    }
    try {
      await route.handler(request, response, url);
    } catch (error) {
      // A path with broken %-escapes is the client's mistake, not ours.
      if (error instanceof URIError && !response.headersSent) return sendText(response, 400, 'bad URL\n');
      this.log.error({ err: error, path: url.pathname }, 'HTTP handler failed');
      if (!response.headersSent) sendText(response, 500, 'internal server error\n');
      else response.destroy();
    }
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const url = requestUrl(request);
    const route = match(this.upgrades, url.pathname);
    if (!route) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    route.handler(request, socket, head, url);
  }
}

/** Leading slashes are folded: CppComet pages connect to `//ws/…`, which URL would read as a host name. */
function requestUrl(request: IncomingMessage): URL {
  return new URL((request.url ?? '/').replace(/^\/{2,}/, '/'), 'http://localhost');
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
