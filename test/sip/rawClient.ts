/** A SIP-over-WebSocket client for tests that writes its messages by hand and records what comes back. */
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { digestResponse } from '../../src/sip/digest.js';
import { parseAuthParams } from '../../src/sip/headers.js';
import { parseMessage, tagOf, type SipMessage, type SipRequest, type SipResponse } from '../../src/sip/message.js';

export const token = (): string => randomBytes(6).toString('hex');

export interface RequestSpec {
  method: string;
  uri: string;
  callId: string;
  cseq: number;
  fromUser: string;
  fromTag: string;
  toUri?: string;
  toTag?: string;
  branch?: string;
  headers?: string[];
  body?: string;
}

/** A request as JsSIP 3 writes it over WebSocket. */
export function sipRequest(spec: RequestSpec): string {
  const body = spec.body ?? '';
  const lines = [
    `${spec.method} ${spec.uri} SIP/2.0`,
    `Via: SIP/2.0/WSS abcdef.invalid;branch=${spec.branch ?? `z9hG4bK${token()}`}`,
    'Max-Forwards: 69',
    `To: <${spec.toUri ?? spec.uri}>${spec.toTag ? `;tag=${spec.toTag}` : ''}`,
    `From: "${spec.fromUser}" <sip:${spec.fromUser}@localhost>;tag=${spec.fromTag}`,
    `Call-ID: ${spec.callId}`,
    `CSeq: ${spec.cseq} ${spec.method}`,
    ...(spec.headers ?? []),
    'User-Agent: JsSIP 3.10.0',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}

export class RawSipClient {
  readonly received: SipMessage[] = [];
  private wake: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      // A bare CRLF is the keep-alive pong, not a message.
      if (data.toString() === '\r\n') return;
      this.received.push(parseMessage(data.toString()));
      this.wake.splice(0).forEach((resolve) => resolve());
    });
  }

  /**
   * `localAddress` (another loopback address, 127.0.0.2…) makes the client come from elsewhere; `headers`
   * of the upgrade (X-Forwarded-For) make it come through a proxy on this machine.
   */
  static async connect(port: number, localAddress?: string, headers?: Record<string, string>): Promise<RawSipClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/sip`, 'sip', { localAddress, headers });
    await once(ws, 'open');
    return new RawSipClient(ws);
  }

  send(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** Waits for (and takes) the first message that matches. */
  async next<T extends SipMessage = SipMessage>(matches: (message: SipMessage) => boolean, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex(matches);
      if (index >= 0) return this.received.splice(index, 1)[0] as T;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching SIP message; received ${this.received.map(describe).join(', ') || 'nothing'}`);
      await new Promise<void>((resolve) => {
        this.wake.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }

  /** The next final response to the request with this CSeq. */
  final(callId: string, cseq: number, method = 'INVITE', timeoutMs?: number): Promise<SipResponse> {
    return this.next<SipResponse>(
      (m) => m.kind === 'response' && m.status >= 200 && m.callId === callId && m.cseq.seq === cseq && m.cseq.method === method,
      timeoutMs,
    );
  }

  request(method: string, callId: string): Promise<SipRequest> {
    return this.next<SipRequest>((m) => m.kind === 'request' && m.method === method && m.callId === callId);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = once(this.ws, 'close');
    this.ws.close();
    await closed;
  }
}

/** The Authorization header answering a 401's challenge, as JsSIP computes it. */
export function authorization(challenge: SipResponse, user: string, password: string, method: string, uri: string, nc = '00000001'): string {
  const { params } = parseAuthParams(challenge.headers.get('WWW-Authenticate') ?? '');
  const realm = params.get('realm') ?? '';
  const nonce = params.get('nonce') ?? '';
  const cnonce = token();
  const response = digestResponse({ username: user, realm, password, method, uri, nonce, qop: { nc, cnonce } });
  return `Authorization: Digest algorithm=MD5, username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", qop=auth, cnonce="${cnonce}", nc=${nc}`;
}

export interface AuthenticatedOptions {
  /** How long to wait for the final response to the request with credentials (RawSipClient.next's default unless given). */
  timeoutMs?: number;
  /** Resolve with a first final response other than the 401 (acknowledged, for an INVITE) instead of throwing. */
  takeRefusal?: boolean;
}

/**
 * Sends a request as JsSIP does: CSeq 1 without credentials, the 401 (acknowledged for an INVITE), then CSeq
 * 2 with them; resolves with the final response to that. A first final response other than a 401 throws,
 * or with `takeRefusal` is what it resolves with.
 */
export async function sendAuthenticated(
  client: RawSipClient,
  request: Omit<RequestSpec, 'cseq' | 'branch'>,
  password: string,
  { timeoutMs, takeRefusal = false }: AuthenticatedOptions = {},
): Promise<SipResponse> {
  const { method, callId } = request;
  const branch = `z9hG4bK${token()}`;
  client.send(sipRequest({ ...request, cseq: 1, branch }));
  const challenge = await client.final(callId, 1, method);
  if (challenge.status !== 401 && !takeRefusal) throw new Error(`expected a 401 challenge, got ${challenge.status}`);
  if (method === 'INVITE') client.send(sipRequest({ ...request, method: 'ACK', cseq: 1, branch, toTag: tagOf(challenge.to), headers: [], body: '' }));
  if (challenge.status !== 401) return challenge;
  const credentials = authorization(challenge, request.fromUser, password, method, request.uri);
  client.send(sipRequest({ ...request, cseq: 2, headers: [credentials, ...(request.headers ?? [])] }));
  return client.final(callId, 2, method, timeoutMs);
}

/**
 * Dials as JsSIP does: the INVITE, its 401 acknowledged, the INVITE again with the user's credentials.
 * Resolves with the final response to that one (the mixer takes up to 10 s over an offer it cannot use), or
 * to the first INVITE if that was refused otherwise than with a challenge.
 */
export function inviteWithCredentials(client: RawSipClient, invite: Omit<RequestSpec, 'method' | 'cseq' | 'branch'>, key: string): Promise<SipResponse> {
  return sendAuthenticated(client, { ...invite, method: 'INVITE' }, key, { timeoutMs: 15_000, takeRefusal: true });
}

/** REGISTERs `contact` (the Contact header's value) for the SIP `user` as JsSIP does. */
export function register(client: RawSipClient, user: string, password: string, contact: string): Promise<SipResponse> {
  const request = { method: 'REGISTER', uri: 'sip:localhost', toUri: `sip:${user}@localhost`, callId: token(), fromUser: user, fromTag: token() };
  return sendAuthenticated(client, { ...request, headers: [`Contact: ${contact}`] }, password);
}

function describe(message: SipMessage): string {
  return message.kind === 'response' ? `${message.status} (${message.cseq.method})` : message.method;
}
