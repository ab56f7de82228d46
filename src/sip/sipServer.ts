/**
 * SIP over WebSocket for browsers (JsSIP) and any RFC 7118 client: the /sip endpoint, the registrar and the
 * conference-call user agent server, wired to the conference model, the dialplan and the media engine.
 */
import type { Logger } from 'pino';
import type { MediaEngine } from '../conference/media.js';
import type { ConferenceModel } from '../conference/model.js';
import { CLOSE_KEY_REVOKED, sipUser, type DevId, type UserId } from '../domain.js';
import { reportInternalError } from '../faults.js';
import type { HttpServer } from '../http/server.js';
import { LoginThrottle } from '../security/loginThrottle.js';
import type { Dialplan } from '../../dialplan/index.js';
import { SipAuthenticator, type SipIdentity } from './auth.js';
import { ConferenceCalls } from './calls.js';
import { ALLOWED_METHODS, CAPABILITY_HEADERS, REFUSED_METHODS, SERVER_HEADER } from './capabilities.js';
import { DigestAuthenticator } from './digest.js';
import type { NameAddr } from './headers.js';
import { tagOf, type SipMessage } from './message.js';
import { Registrar, type Binding } from './registrar.js';
import { ClientTransactions, ServerTransactions, type ServerTransaction } from './transactions.js';
import { SipTransport, type Flow } from './transport.js';

export interface SipServerOptions {
  model: ConferenceModel;
  media: MediaEngine;
  dialplan: Dialplan;
  log: Logger;
  /** The digest realm. */
  realm: string;
  nonceLifetimeMs: number;
  /** `host:port` browsers reach us at: the sent-by of our Via and the host of our Contact. */
  host: string;
  /** How long a confirmed call outlives its closed socket, waiting for the browser to register again. */
  reconnectGraceMs?: number;
  /** WebSockets one SIP user may authenticate on at once. */
  maxSocketsPerUser: number;
  /** Contacts one SIP user may have registered at once. */
  maxRegistrationsPerUser: number;
  /** Called for each refused login (a wrong digest, or one refused unchecked while throttled). */
  onLoginFailure?: () => void;
  /** Back-off of failed digests per address and per user; a default one unless given. */
  loginThrottle?: LoginThrottle;
}

/** JsSIP retries a dropped socket after 2 s, then backs off towards 30 s: its first attempts fit in. */
const RECONNECT_GRACE_MS = 30_000;

export class SipServer {
  private readonly registrar: Registrar;
  private readonly transport: SipTransport;
  private readonly serverTransactions = new ServerTransactions();
  private readonly clientTransactions: ClientTransactions;
  private readonly auth: SipAuthenticator;
  private readonly calls: ConferenceCalls;
  /** Sockets each SIP user authenticated on, and the reverse: what a revoked key closes. */
  private readonly flowsByUser = new Map<string, Set<Flow>>();
  private readonly usersByFlow = new Map<Flow, Set<string>>();
  private readonly detach: () => void;
  private readonly log: Logger;
  private readonly maxSocketsPerUser: number;

  constructor(http: HttpServer, options: SipServerOptions) {
    const { model, log } = options;
    this.log = log;
    this.maxSocketsPerUser = options.maxSocketsPerUser;
    this.registrar = new Registrar({ minExpires: 60, maxExpires: 3600, defaultExpires: 3600, maxBindingsPerUser: options.maxRegistrationsPerUser });
    this.clientTransactions = new ClientTransactions(log);
    this.auth = new SipAuthenticator(
      model,
      new DigestAuthenticator({ realm: options.realm, nonceLifetimeMs: options.nonceLifetimeMs }),
      log,
      options.loginThrottle ?? new LoginThrottle(),
      options.onLoginFailure ?? (() => undefined),
    );
    this.calls = new ConferenceCalls({
      model,
      media: options.media,
      dialplan: options.dialplan,
      log,
      authenticate: (transaction, claimed) => this.authenticate(transaction, claimed),
      clientTransactions: this.clientTransactions,
      host: options.host,
      reconnectGraceMs: options.reconnectGraceMs ?? RECONNECT_GRACE_MS,
    });
    this.transport = new SipTransport(
      http,
      {
        onMessage: (flow, message) => this.receive(flow, message),
        onFlowClosed: (flow) => this.flowClosed(flow),
      },
      log,
    );
    this.detach = model.subscribe({ keyRevoked: (devId, userId) => this.keyRevoked(devId, userId) });
  }

  /** Calls being connected or up, including those waiting for their browser to reconnect. */
  get activeCalls(): number {
    return this.calls.activeCalls;
  }

  registrations(devId: DevId, userId: UserId): Binding[] {
    return this.registrar.bindings(sipUser(devId, userId));
  }

  /** Ends every call with BYE (members leave with reason shutdown), then closes the sockets. */
  async close(): Promise<void> {
    this.detach();
    await this.calls.shutdown();
    this.transport.close();
  }

  private receive(flow: Flow, message: SipMessage): void {
    if (message.kind === 'response') {
      this.clientTransactions.receive(message);
      return;
    }
    const request = message;
    if (request.method === 'ACK') {
      // The ACK of a non-2xx response belongs to its INVITE transaction and ends there.
      if (!this.serverTransactions.find(flow, request)) this.calls.ack(flow, request);
      return;
    }
    const earlier = this.serverTransactions.find(flow, request);
    if (earlier) {
      earlier.retransmit();
      return;
    }
    const transaction = this.serverTransactions.create(flow, request);
    this.handle(transaction).catch((error: unknown) => {
      reportInternalError(this.log.child({ method: request.method, callId: request.callId }), error, 'sip-request');
      transaction.respond(500);
    });
  }

  private async handle(transaction: ServerTransaction): Promise<void> {
    const { request, flow } = transaction;
    const { method } = request;
    // RFC 3261 8.2.2.3: we support no extension a client could require.
    const required = method === 'CANCEL' ? [] : request.headers.all('Require');
    if (required.length > 0) return transaction.respond(420, { headers: [['Unsupported', required.join(', ')]] });
    if (method === 'CANCEL') return this.calls.cancel(transaction, this.serverTransactions.find(flow, request, 'INVITE'));
    const inDialog = tagOf(request.to) !== undefined;
    if (inDialog && (await this.calls.inDialog(transaction))) return;
    switch (method) {
      case 'REGISTER':
        return this.register(transaction);
      case 'INVITE':
        return inDialog ? transaction.respond(481) : this.calls.invite(transaction);
      case 'OPTIONS':
        return transaction.respond(200, { headers: CAPABILITY_HEADERS });
      case 'BYE':
      case 'INFO':
      case 'UPDATE':
        return transaction.respond(481);
      default:
        if (REFUSED_METHODS.has(method)) return transaction.respond(405, { headers: [['Allow', ALLOWED_METHODS.join(', ')]] });
        return transaction.respond(501);
    }
  }

  private async register(transaction: ServerTransaction): Promise<void> {
    const { request, flow } = transaction;
    const identity = await this.authenticate(transaction, request.to);
    // A socket that closed while the key was looked up gets no binding.
    if (!identity || transaction.finished) return;
    const outcome = this.registrar.register(identity.user, flow.id, request);
    if (outcome.status !== 200) {
      const headers: [string, string][] = outcome.status === 423 ? [['Min-Expires', String(outcome.minExpires)]] : [];
      return transaction.respond(outcome.status, { reason: outcome.reason, headers });
    }
    this.log.info({ user: identity.user, flow: flow.id, contacts: outcome.contacts.length }, 'SIP registration');
    transaction.respond(200, { headers: [...outcome.contacts.map((contact): [string, string] => ['Contact', contact]), ...SERVER_HEADER] });
    // A browser back after a drop registers its Contact again: its calls follow it to this socket.
    const bound = this.registrar.bindings(identity.user).filter((binding) => binding.flowId === flow.id);
    this.calls.reattach(identity, flow, bound.map((binding) => binding.contact.uri));
  }

  /**
   * Digest-authenticates the request as the user of `claimed`; answers 401/403/400 itself when it is not,
   * and 403 when it comes on one socket more than the user may hold.
   */
  private async authenticate(transaction: ServerTransaction, claimed: NameAddr): Promise<SipIdentity | undefined> {
    const { flow } = transaction;
    const outcome = await this.auth.authenticate(transaction.request, claimed, flow.remoteAddress);
    if (!outcome.ok) {
      const headers: [string, string][] = [];
      if (outcome.challenge) headers.push(['WWW-Authenticate', outcome.challenge]);
      if (outcome.retryAfterSeconds) headers.push(['Retry-After', String(outcome.retryAfterSeconds)]);
      transaction.respond(outcome.status, { reason: outcome.reason, headers });
      return undefined;
    }
    const { user } = outcome.identity;
    const flows = this.flowsByUser.get(user) ?? new Set<Flow>();
    if (!flows.has(flow) && flows.size >= this.maxSocketsPerUser) {
      transaction.respond(403, { reason: `Too many SIP sockets for this user (${this.maxSocketsPerUser})` });
      return undefined;
    }
    if (flow.open) {
      this.flowsByUser.set(user, flows.add(flow));
      this.usersByFlow.set(flow, (this.usersByFlow.get(flow) ?? new Set()).add(user));
    }
    return outcome.identity;
  }

  /** The user's calls end with BYE, their registrations go, and the sockets they authenticated on close. */
  private keyRevoked(devId: DevId, userId: UserId): void {
    const user = sipUser(devId, userId);
    this.calls.endUserCalls(devId, userId);
    this.registrar.dropUser(user);
    for (const flow of this.flowsByUser.get(user) ?? []) flow.close(CLOSE_KEY_REVOKED, 'key revoked');
    this.log.info({ user }, 'SIP user key revoked; registrations and sockets dropped');
  }

  private flowClosed(flow: Flow): void {
    this.calls.flowClosed(flow);
    this.registrar.dropFlow(flow.id);
    this.serverTransactions.dropFlow(flow);
    this.clientTransactions.dropFlow(flow);
    for (const user of this.usersByFlow.get(flow) ?? []) {
      const flows = this.flowsByUser.get(user);
      flows?.delete(flow);
      if (flows?.size === 0) this.flowsByUser.delete(user);
    }
    this.usersByFlow.delete(flow);
  }
}
