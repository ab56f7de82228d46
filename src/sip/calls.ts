/**
 * The user agent server for conference calls: an INVITE is authenticated, routed by the dialplan, admitted
 * by the conference model and given its media leg by the media engine; the dialog then lives until the
 * browser sends BYE, the model puts the member out (we send BYE with a Reason), or its socket closes and the
 * browser does not register again from a new one within the grace period.
 */
import type { Logger } from 'pino';
import { reportInternalError } from '../faults.js';
import { ConferenceError, type ConferenceErrorKind, type ConferenceModel } from '../conference/model.js';
import { MediaError, type MediaEngine } from '../conference/media.js';
import { roomKey, type DevId, type LeaveReason, type Member, type RoomName, type UserId } from '../domain.js';
import { hangupCauseToSip, type Dialplan, type SipStatus } from '../../dialplan/index.js';
import type { SipIdentity } from './auth.js';
import { CAPABILITY_HEADERS, SERVER_HEADER } from './capabilities.js';
import { parseNameAddr, sameUri, SipSyntaxError, type NameAddr, type SipUri } from './headers.js';
import { contentType, formatRequest, newBranch, tagOf, type HeaderList, type SipRequest } from './message.js';
import { offerProblem, sameMediaSession } from './sdp.js';
import type { ClientTransactions, ServerTransaction } from './transactions.js';
import type { Flow } from './transport.js';

/** Why we end a call: the model's reasons, plus a newer call of the same member, plus a missing ACK. */
export type EndReason = LeaveReason | 'replaced' | 'no-ack';

/** RFC 3326 Reason header causes (Q.850), with our reason as its text. */
const Q850_CAUSES: Record<EndReason, number> = {
  hangup: 16,
  kicked: 16,
  uninvited: 16,
  replaced: 16,
  'key-revoked': 21,
  'media-failed': 47,
  shutdown: 41,
  'no-ack': 102,
};

const JOIN_REFUSALS: Record<ConferenceErrorKind, number> = {
  'not-invited': 403,
  'room-full': 486,
  'unknown-profile': 404,
};

/** RFC 3261 13.3.1.4: a UAS that gets no ACK for its 2xx within 64 × T1 ends the session with BYE. */
const ACK_TIMEOUT_MS = 32_000;
const DTMF_TYPES = new Set(['application/dtmf-relay', 'application/dtmf']);

interface Call {
  /** The socket requests in the dialog go out on; it changes when the browser registers from another one. */
  flow: Flow;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** Their From as received: the To of requests we send. */
  readonly remoteAddress: string;
  /** Their To with our tag: the From of requests we send. */
  readonly localAddress: string;
  /** Their Contact: the Request-URI of requests we send, and how their browser is known when it comes back. */
  readonly remoteTarget: SipUri;
  remoteCSeq: number;
  localCSeq: number;
  readonly member: Member;
  /** The offer our answer answers; a re-offer is compared with it. */
  readonly offer: string;
  answer: string | undefined;
  state: 'connecting' | 'answered' | 'confirmed' | 'ended';
  /** The browser knows the call is over (it hung up, cancelled, lost its socket, or we sent BYE). */
  peerKnows: boolean;
  ackTimer?: NodeJS.Timeout;
  /** Runs while the socket is closed: the grace period the browser has to come back. */
  returnTimer?: NodeJS.Timeout;
  /** Why we ended the call while its socket was closed: the BYE the browser gets if it comes back. */
  unsentBye?: EndReason;
}

export interface CallsOptions {
  model: ConferenceModel;
  media: MediaEngine;
  dialplan: Dialplan;
  log: Logger;
  /** Authenticates the request as the user of `claimed`, or answers it (401/403) and returns undefined. */
  authenticate(transaction: ServerTransaction, claimed: NameAddr): Promise<SipIdentity | undefined>;
  clientTransactions: ClientTransactions;
  /** Host (and port) of our Via and Contact. */
  host: string;
  /** How long a confirmed call outlives its closed socket, waiting for the browser to register again. */
  reconnectGraceMs: number;
}

/** Where the dialplan sends a call: a room and its profile. */
type Destination = { room: RoomName; profile: string };

export class ConferenceCalls {
  private readonly dialogs = new Map<string, Call>();
  /** The call that carries each member (roomKey:userId); a newer call of the same member replaces it. */
  private readonly byMember = new Map<string, Call>();
  /** Calls whose socket closed, until their browser comes back or the grace period ends; ended ones owe a BYE. */
  private readonly awaitingReturn = new Set<Call>();
  private readonly detach: () => void;

  constructor(private readonly options: CallsOptions) {
    this.detach = options.model.subscribe({
      memberLeft: (member, reason) => {
        const call = this.byMember.get(memberKey(member));
        if (call) void this.end(call, reason);
      },
    });
  }

  /** Calls being connected or up, including those waiting for their browser to reconnect. */
  get activeCalls(): number {
    return this.byMember.size;
  }

  /** An initial INVITE (no To tag): checked, authenticated and routed, then connected to its room. */
  async invite(transaction: ServerTransaction): Promise<void> {
    const { request } = transaction;
    transaction.respond(100);
    const remoteTag = tagOf(request.from);
    const remoteTarget = contactUri(request);
    if (!remoteTag) return transaction.respond(400, { reason: 'Missing From tag' });
    if (!remoteTarget) return transaction.respond(400, { reason: 'Missing or bad Contact' });
    if (!isSdp(request)) return transaction.respond(415, { headers: [['Accept', 'application/sdp']] });
    if (request.body.trim() === '') return transaction.respond(488, { reason: 'An SDP offer is required' });

    const caller = await this.options.authenticate(transaction, request.from);
    if (!caller || transaction.finished) return;
    // Judged once the caller is known, so every client meets the challenge first, whatever it offers.
    const problem = offerProblem(request.body);
    if (problem) return transaction.respond(problem.status, { reason: problem.reason });
    const route = this.route(request.uri.user ?? '', caller);
    if ('status' in route) return transaction.respond(route.status, { reason: route.reason });
    await this.connect(transaction, caller, route, { remoteTag, remoteTarget });
  }

  /**
   * Admits the caller to the room and sets up the media leg, then answers 200. After each step that waits,
   * the call may have been cancelled, lost its socket or been put out of the room: each is undone there.
   */
  private async connect(
    transaction: ServerTransaction,
    caller: SipIdentity,
    route: Destination,
    remote: { remoteTag: string; remoteTarget: SipUri },
  ): Promise<void> {
    const { request } = transaction;
    const { model, media, log } = this.options;
    const { devId, userId } = caller;
    let member: Member;
    try {
      member = await model.join({ devId, room: route.room, userId, profile: route.profile });
    } catch (error) {
      if (!(error instanceof ConferenceError)) throw error;
      log.info({ user: caller.user, room: route.room, refused: error.kind }, 'SIP call refused by the conference');
      return transaction.respond(JOIN_REFUSALS[error.kind]);
    }
    if (transaction.finished) {
      await model.leave(devId, route.room, userId, 'hangup');
      return;
    }
    const call: Call = {
      flow: transaction.flow,
      callId: request.callId,
      localTag: transaction.toTag,
      ...remote,
      remoteAddress: request.headers.get('From') ?? '',
      localAddress: `${request.headers.get('To') ?? ''};tag=${transaction.toTag}`,
      remoteCSeq: request.cseq.seq,
      localCSeq: 0,
      member,
      offer: request.body,
      answer: undefined,
      state: 'connecting',
      peerKnows: false,
    };
    // The join replaced the member's earlier call, if any (a browser that called again): that one ends.
    const previous = this.byMember.get(memberKey(member));
    this.byMember.set(memberKey(member), call);
    if (previous) await this.end(previous, 'replaced');

    let answer: string;
    try {
      answer = await media.join(member, request.body, () => this.mediaFailed(call));
    } catch (error) {
      log.warn({ user: caller.user, room: route.room, err: error }, 'media setup failed');
      transaction.respond(error instanceof MediaError ? 488 : 500);
      await model.leave(devId, route.room, userId, 'media-failed');
      return;
    }
    if (call.state === 'ended' || transaction.finished) {
      transaction.respond(480);
      // Put out of the room meanwhile: the leg that was being built goes too. Cancelled: the member leaves.
      if (call.state === 'ended') await media.leave(member);
      else await model.leave(devId, route.room, userId, 'hangup');
      return;
    }
    call.answer = answer;
    call.state = 'answered';
    this.dialogs.set(dialogId(call.callId, call.localTag, call.remoteTag), call);
    transaction.respond(200, { toTag: call.localTag, body: answer, contentType: 'application/sdp', headers: this.dialogHeaders() });
    call.ackTimer = setTimeout(() => {
      log.warn({ user: caller.user, room: route.room }, 'no ACK for the 200 OK; call ended');
      this.sendBye(call, 'no-ack');
      this.detached(this.hangUp(call));
    }, ACK_TIMEOUT_MS).unref();
    log.info({ user: caller.user, room: route.room, profile: route.profile }, 'SIP call connected');
  }

  /** CANCEL of a pending INVITE: 200 for the CANCEL, 487 for the INVITE; the INVITE's handler undoes the rest. */
  cancel(transaction: ServerTransaction, invite: ServerTransaction | undefined): void {
    if (!invite) return transaction.respond(481);
    transaction.respond(200, { toTag: invite.toTag });
    invite.respond(487);
  }

  /** The ACK of a 2xx (the ACK of any other final response ends with its INVITE transaction). */
  ack(flow: Flow, request: SipRequest): void {
    const call = this.dialogOf(flow, request);
    if (call?.state !== 'answered') return;
    call.state = 'confirmed';
    clearTimeout(call.ackTimer);
  }

  /** A request with a To tag: false when it belongs to no dialog of ours on this socket. */
  async inDialog(transaction: ServerTransaction): Promise<boolean> {
    const { request } = transaction;
    const call = this.dialogOf(transaction.flow, request);
    if (!call) return false;
    // RFC 3261 12.2.2: requests within a dialog come in CSeq order.
    if (request.cseq.seq <= call.remoteCSeq) {
      transaction.respond(500, { reason: 'CSeq out of order' });
      return true;
    }
    call.remoteCSeq = request.cseq.seq;
    switch (request.method) {
      case 'BYE':
        transaction.respond(200);
        call.peerKnows = true;
        await this.hangUp(call);
        break;
      case 'INVITE':
        this.reoffer(transaction, call, true);
        break;
      case 'UPDATE':
        this.reoffer(transaction, call, false);
        break;
      case 'INFO': {
        // JsSIP's sendDTMF() sends INFO application/dtmf-relay. Tones reach the mixer in RTP (RFC 4733) if at
        // all; the INFO is acknowledged so the call carries on, and its digit is not acted on.
        const type = contentType(request);
        if (request.body === '' || (type !== undefined && DTMF_TYPES.has(type))) transaction.respond(200);
        else transaction.respond(415, { headers: [['Accept', 'application/dtmf-relay']] });
        break;
      }
      default:
        return false;
    }
    return true;
  }

  /**
   * The socket of these calls closed. The media does not run over it, so a confirmed call waits for its
   * browser to reconnect (JsSIP does, and registers again); a call not confirmed yet ends, its ACK being lost.
   */
  flowClosed(flow: Flow): void {
    for (const call of [...this.byMember.values()]) {
      if (call.flow !== flow || call.state === 'connecting') continue;
      if (call.state === 'confirmed') {
        this.awaitReturn(call);
      } else {
        call.peerKnows = true;
        this.detached(this.hangUp(call));
      }
    }
  }

  /**
   * `owner` registered these Contacts over `flow` (authenticated). A browser keeps its Contact across
   * reconnections (RFC 5626 flow recovery), so the owner's calls with one of them as remote target are that
   * browser's: they move to `flow`, whether their old socket closed or has not been seen to close yet, and a
   * call ended meanwhile sends its BYE now. Another user registering the same Contact moves nothing.
   */
  reattach(owner: SipIdentity, flow: Flow, contacts: readonly SipUri[]): void {
    for (const call of new Set([...this.dialogs.values(), ...this.awaitingReturn])) {
      if (call.flow === flow || !isUsersCall(call, owner.devId, owner.userId)) continue;
      if (!contacts.some((contact) => sameUri(contact, call.remoteTarget))) continue;
      call.flow = flow;
      clearTimeout(call.returnTimer);
      this.awaitingReturn.delete(call);
      if (call.unsentBye) this.sendBye(call, call.unsentBye);
      this.options.log.info({ user: owner.user, callId: call.callId, flow: flow.id }, 'SIP call moved to a new socket');
    }
  }

  /**
   * A user's key was revoked: their calls end now, BYE first, so the BYE is written before the caller
   * closes the user's sockets. The model then puts the member out and finds the call already gone.
   */
  endUserCalls(devId: DevId, userId: UserId): void {
    for (const call of [...this.byMember.values()]) {
      if (isUsersCall(call, devId, userId)) void this.end(call, 'key-revoked');
    }
  }

  /** Every member leaves with reason shutdown, which sends each browser its BYE. */
  async shutdown(): Promise<void> {
    this.detach();
    for (const call of this.awaitingReturn) clearTimeout(call.returnTimer);
    this.awaitingReturn.clear();
    await Promise.all(
      [...this.byMember.values()].map(async (call) => {
        await this.options.model.leave(call.member.devId, call.member.room, call.member.userId, 'shutdown');
        await this.end(call, 'shutdown');
      }),
    );
  }

  private route(destination: string, caller: SipIdentity): Destination | SipStatus {
    const result = this.options.dialplan.route({
      destination_number: destination,
      caller_id_number: caller.user,
      user_id: String(caller.userId),
      dev_id: String(caller.devId),
    });
    if (!result) return hangupCauseToSip('NO_ROUTE_DESTINATION');
    for (const action of result.actions) {
      if (action.kind === 'hangup') return hangupCauseToSip(action.cause);
      if (action.kind !== 'conference') continue;
      // The dialplan names the room <dev_id>*<room>, as CppComet's FreeSWITCH did; a tenant stays in its own.
      const match = /^(\d+)\*(.+)$/.exec(action.room);
      if (!match) return { status: 404, reason: 'Not Found' };
      if (Number(match[1]) !== caller.devId) return { status: 403, reason: 'Forbidden' };
      return { room: match[2] ?? '', profile: action.profile };
    }
    // Matched, but sent nowhere: FreeSWITCH would hang up with NORMAL_CLEARING.
    return hangupCauseToSip('NORMAL_CLEARING');
  }

  /**
   * A re-INVITE or UPDATE in an established call. The mixer cannot renegotiate a leg, so an offer that asks
   * for the session we already have (a session refresh: same m-lines, codecs, ICE and DTLS) gets the same
   * answer again, and any real change (hold, ICE restart, new tracks) gets 488, which leaves the current
   * session as it is (RFC 3261 14.2). An UPDATE without SDP is a session-timer refresh: 200. A re-INVITE
   * without SDP would need us to offer: 488.
   */
  private reoffer(transaction: ServerTransaction, call: Call, isInvite: boolean): void {
    const { request } = transaction;
    const headers = this.dialogHeaders();
    if (request.body === '' && !isInvite) return transaction.respond(200, { headers });
    if (!isSdp(request) || request.body === '') return transaction.respond(488, { reason: 'Only the current media session is offered' });
    if (call.answer === undefined || !sameMediaSession(call.offer, request.body)) {
      return transaction.respond(488, { reason: 'Media renegotiation is not supported' });
    }
    transaction.respond(200, { body: call.answer, contentType: 'application/sdp', headers });
  }

  /**
   * The call's media leg failed or went silent: the member leaves, and the call ends with BYE (cause 47).
   * Unless a newer call of the member has replaced this one: that call's membership is not this leg's to end.
   */
  private mediaFailed(call: Call): void {
    if (this.byMember.get(memberKey(call.member)) !== call) return;
    const { devId, room, userId } = call.member;
    this.detached(this.options.model.leave(devId, room, userId, 'media-failed'));
  }

  /** The browser ended the call (BYE, socket closed) or never confirmed it: the member leaves. */
  /** Work started from a timer or an event that nobody awaits: what it throws is a bug of ours, counted, never lost. */
  private detached(work: Promise<unknown>): void {
    work.catch((error: unknown) => reportInternalError(this.options.log, error, 'sip-call'));
  }

  private async hangUp(call: Call): Promise<void> {
    const { devId, room, userId } = call.member;
    await this.options.model.leave(devId, room, userId, 'hangup');
    // The model may not have known the member any more; the call ends all the same.
    await this.end(call, 'hangup');
  }

  /**
   * Forgets the call and tells the browser unless it knows, at once; resolves when the media leg is
   * released. Idempotent, and never rejects.
   */
  private async end(call: Call, reason: EndReason): Promise<void> {
    if (call.state === 'ended') return;
    const established = call.state !== 'connecting';
    call.state = 'ended';
    clearTimeout(call.ackTimer);
    this.dialogs.delete(dialogId(call.callId, call.localTag, call.remoteTag));
    if (this.byMember.get(memberKey(call.member)) === call) this.byMember.delete(memberKey(call.member));
    if (established && !call.peerKnows) this.sendBye(call, reason);
    try {
      await this.options.media.leave(call.member);
    } catch (error) {
      this.options.log.warn({ err: error, room: call.member.room, userId: call.member.userId }, 'media leave failed');
    }
  }

  /**
   * Keeps a call whose socket closed for the grace period; then, unless its browser came back, the member
   * leaves as if it had hung up.
   */
  private awaitReturn(call: Call): void {
    this.awaitingReturn.add(call);
    call.returnTimer = setTimeout(() => {
      this.awaitingReturn.delete(call);
      // Put out of the room meanwhile: the BYE it owes is dropped.
      if (call.state === 'ended') return;
      this.options.log.info({ callId: call.callId, room: call.member.room, userId: call.member.userId }, 'SIP browser not back; call ended');
      call.peerKnows = true;
      this.detached(this.hangUp(call));
    }, this.options.reconnectGraceMs);
    call.returnTimer.unref();
  }

  /**
   * BYE in the dialog (RFC 3261 15.1.1), with the reason for the browser (RFC 3326). Without a socket (the
   * browser is reconnecting) the call still ends here at once, so the room is right and the media released;
   * the BYE is kept and sent if the browser comes back within the grace period, so it learns the reason.
   */
  private sendBye(call: Call, reason: EndReason): void {
    call.peerKnows = true;
    if (!call.flow.open) {
      call.unsentBye = reason;
      return;
    }
    call.unsentBye = undefined;
    const branch = newBranch();
    call.localCSeq += 1;
    const bye = formatRequest('BYE', call.remoteTarget.raw, [
      ['Via', `SIP/2.0/${call.flow.viaTransport} ${this.options.host};branch=${branch}`],
      ['Max-Forwards', '70'],
      ['From', call.localAddress],
      ['To', call.remoteAddress],
      ['Call-ID', call.callId],
      ['CSeq', `${call.localCSeq} BYE`],
      ['Reason', `Q.850;cause=${Q850_CAUSES[reason]};text="${reason}"`],
      ...SERVER_HEADER,
    ]);
    void this.options.clientTransactions.send(call.flow, branch, bye).then((response) => {
      if (response?.status !== 200) this.options.log.debug({ callId: call.callId, status: response?.status }, 'BYE not acknowledged with 200');
    });
  }

  private dialogHeaders(): HeaderList {
    return [['Contact', `<sip:cometmcu@${this.options.host};transport=ws>`], ...CAPABILITY_HEADERS];
  }

  /**
   * A dialog is served on the socket it is attached to (it moves with its browser's registration, see
   * reattach): its Call-ID and tags sent over any other socket, by another user or anyone, find nothing.
   */
  private dialogOf(flow: Flow, request: SipRequest): Call | undefined {
    const localTag = tagOf(request.to);
    const remoteTag = tagOf(request.from);
    if (localTag === undefined || remoteTag === undefined) return undefined;
    const call = this.dialogs.get(dialogId(request.callId, localTag, remoteTag));
    return call?.flow === flow ? call : undefined;
  }
}

function isUsersCall(call: Call, devId: DevId, userId: UserId): boolean {
  return call.member.devId === devId && call.member.userId === userId;
}

function memberKey(member: Member): string {
  return `${roomKey(member.devId, member.room)}:${member.userId}`;
}

function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag}\n${remoteTag}`;
}

function isSdp(request: SipRequest): boolean {
  const type = contentType(request);
  return type === undefined ? request.body === '' : type === 'application/sdp';
}

/** The URI of the request's single Contact, or undefined. */
function contactUri(request: SipRequest): SipUri | undefined {
  const [contact, ...others] = request.headers.all('Contact');
  if (contact === undefined || others.length > 0) return undefined;
  try {
    return parseNameAddr(contact).uri;
  } catch (error) {
    if (error instanceof SipSyntaxError) return undefined;
    throw error;
  }
}
