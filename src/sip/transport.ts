/**
 * SIP over WebSocket (RFC 7118) at /sip: one flow per socket, one SIP message per frame. Requests get their
 * top Via stamped with where they really came from (`received`, `rport`), and every reply goes back on the
 * socket the request came in on, whatever the Via says. Malformed frames fail alone; a socket that keeps
 * sending them is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { HttpServer } from '../http/server.js';
import { reportInternalError } from '../faults.js';
import { SampledLog } from '../log.js';
import { requestAddress } from '../net.js';
import { formatReply, MAX_MESSAGE_BYTES, parseMessage, SipParseError, type SipMessage, type SipMessageBase } from './message.js';

export const SIP_PATH = '/sip';
/**
 * A SIP message over WebSocket is a few kB. One over MAX_MESSAGE_BYTES is answered 513 when it can be; a
 * frame twice that size is not even read: ws closes the socket (1009).
 */
const MAX_FRAME_BYTES = 2 * MAX_MESSAGE_BYTES;
/** A parse problem becomes the reason phrase of the 400: kept short, whatever the message quoted. */
const MAX_REASON_CHARS = 160;
/** A peer that does not read its messages is cut off before it costs us memory. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
const MALFORMED_WINDOW_MS = 10_000;
const MAX_MALFORMED_PER_WINDOW = 20;
/** RFC 5626 3.5.1: a double CRLF is a keep-alive ping, answered with a single CRLF. */
const PING = '\r\n\r\n';
const PONG = '\r\n';

/** One WebSocket: the path of every reply, and of the requests we send in the calls attached to it. */
export interface Flow {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** `WSS` on a TLS socket, else `WS`: the transport of our own Via. */
  readonly viaTransport: 'WS' | 'WSS';
  readonly open: boolean;
  send(message: string): void;
  close(code: number, reason: string): void;
}

export interface TransportHandlers {
  onMessage(flow: Flow, message: SipMessage): void;
  onFlowClosed(flow: Flow): void;
}

class WebSocketFlow implements Flow {
  private malformedWindowStart = 0;
  private malformedCount = 0;

  constructor(
    readonly id: number,
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly viaTransport: 'WS' | 'WSS',
  ) {}

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(message: string): void {
    if (!this.open) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.ws.terminate();
      return;
    }
    this.ws.send(message);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  /** Counts a malformed frame; false once there have been too many lately. */
  tolerateMalformed(now: number): boolean {
    if (now - this.malformedWindowStart > MALFORMED_WINDOW_MS) {
      this.malformedWindowStart = now;
      this.malformedCount = 0;
    }
    return ++this.malformedCount <= MAX_MALFORMED_PER_WINDOW;
  }
}

export class SipTransport {
  private readonly server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
  });
  private readonly flows = new Set<WebSocketFlow>();
  private nextFlowId = 1;
  private readonly sampledLog: SampledLog;

  constructor(
    http: HttpServer,
    private readonly handlers: TransportHandlers,
    private readonly log: Logger,
  ) {
    http.onUpgrade(SIP_PATH, (request, socket, head) => this.upgrade(request, socket, head));
    this.sampledLog = new SampledLog(log);
  }

  /** Closes every socket; what was sent before (BYEs) is flushed first. */
  close(): void {
    for (const flow of this.flows) flow.close(1001, 'server shutting down');
    this.server.close();
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // RFC 7118 section 4: the client must ask for the `sip` subprotocol.
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((name) => name.trim());
    if (!offered.includes('sip')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nSec-WebSocket-Protocol: sip required\n');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request));
  }

  private accept(ws: WebSocket, request: IncomingMessage): void {
    const remote = request.socket;
    const flow = new WebSocketFlow(
      this.nextFlowId++,
      ws,
      // Behind a TLS proxy on this machine, the address the proxy forwarded: digests are throttled by it.
      requestAddress(request) || '0.0.0.0',
      remote.remotePort ?? 0,
      (remote as TLSSocket).encrypted ? 'WSS' : 'WS',
    );
    this.flows.add(flow);
    this.log.debug({ flow: flow.id, remote: `${flow.remoteAddress}:${flow.remotePort}` }, 'SIP WebSocket open');
    ws.on('error', (error) => this.log.debug({ flow: flow.id, err: error.message }, 'SIP WebSocket error'));
    ws.on('message', (data) => this.guard(flow, () => this.receive(flow, toBuffer(data))));
    ws.on('close', () => {
      this.flows.delete(flow);
      this.log.debug({ flow: flow.id }, 'SIP WebSocket closed');
      this.guard(flow, () => this.handlers.onFlowClosed(flow));
    });
  }

  private receive(flow: WebSocketFlow, frame: Buffer): void {
    const keepAlive = frame.length <= PING.length ? frame.toString('latin1') : '';
    if (keepAlive === PING) flow.send(PONG);
    if (keepAlive === PING || keepAlive === PONG) return;
    let message: SipMessage;
    try {
      message = parseMessage(frame);
    } catch (error) {
      if (!(error instanceof SipParseError)) throw error;
      this.log.debug({ flow: flow.id, problem: error.message }, 'malformed SIP message');
      if (!flow.tolerateMalformed(Date.now())) {
        this.sampledLog.warn('sip-malformed-flood', { flow: flow.id, remote: flow.remoteAddress }, 'too many malformed SIP messages; socket closed');
        flow.close(1008, 'too many malformed messages');
        return;
      }
      if (error.replyTo) {
        stampVia(error.replyTo, flow);
        // The problem is the reason phrase: the client's developer sees it in the trace.
        flow.send(formatReply(error.replyTo, error.status, { reason: error.message.slice(0, MAX_REASON_CHARS).replace(/[^\x20-\x7E]/g, '?') }));
      }
      return;
    }
    if (message.kind === 'request') stampVia(message, flow);
    this.guard(flow, () => this.handlers.onMessage(flow, message));
  }

  /** Nothing a peer sends may take the process down: a handler's failure is a bug of ours, reported; the socket stays. */
  private guard(flow: Flow, action: () => void): void {
    try {
      action();
    } catch (error) {
      reportInternalError(this.log.child({ flow: flow.id }), error, 'sip-socket');
    }
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/**
 * RFC 3261 18.2.1 and RFC 3581: the top Via learns the address the request really came from. Over
 * WebSocket the sent-by is a made-up `*.invalid` name, so `received` is nearly always added.
 */
function stampVia(message: SipMessageBase, flow: Flow): void {
  const top = message.vias[0];
  if (!top) return;
  if (top.host !== flow.remoteAddress) top.params.set('received', flow.remoteAddress);
  if (top.params.has('rport')) top.params.set('rport', String(flow.remotePort));
}
