/**
 * The registrar (RFC 3261 10.3): the Contact bindings of each SIP user, with their expiry. A binding lives
 * on the WebSocket it was registered over (RFC 5626 flows): when that socket closes, the binding goes.
 */
import { SipSyntaxError, formatNameAddr, parseNameAddr, type NameAddr } from './headers.js';
import type { SipRequest } from './message.js';

export interface Binding {
  /** The Contact as the client sent it, without `expires`: echoed back so JsSIP finds its own. */
  contact: NameAddr;
  callId: string;
  cseq: number;
  expiresAt: number;
  flowId: number;
}

export type RegisterOutcome =
  | { status: 200; contacts: string[] }
  | { status: 400 | 403 | 500; reason: string }
  | { status: 423; reason: string; minExpires: number };

export interface RegistrarOptions {
  /** Seconds; a shorter non-zero interval gets 423 Interval Too Brief. */
  minExpires: number;
  /** Seconds; longer requests are shortened to this. */
  maxExpires: number;
  /** Seconds, when the request names none. */
  defaultExpires: number;
  /** A REGISTER that would give a user more bindings than this is refused (403). */
  maxBindingsPerUser: number;
  now?: () => number;
}

export class Registrar {
  /** SIP user → binding key → binding. */
  private readonly byUser = new Map<string, Map<string, Binding>>();
  private readonly now: () => number;

  constructor(private readonly options: RegistrarOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Applies a REGISTER the user is authenticated for: all of its Contacts or none. */
  register(user: string, flowId: number, request: SipRequest): RegisterOutcome {
    const contacts = request.headers.all('Contact');
    const headerExpires = request.headers.get('Expires');
    if (headerExpires !== undefined && !/^\d{1,10}$/.test(headerExpires)) return { status: 400, reason: 'Bad Expires' };
    const bindings = this.current(user);
    const outOfOrder = (binding: Binding | undefined): boolean =>
      binding !== undefined && binding.callId === request.callId && binding.cseq >= request.cseq.seq;

    if (contacts.includes('*')) {
      if (contacts.length !== 1 || headerExpires === undefined || Number(headerExpires) !== 0) {
        return { status: 400, reason: 'Contact * needs Expires: 0 and no other Contact' };
      }
      if ([...bindings.values()].some(outOfOrder)) return { status: 500, reason: 'Out of order REGISTER' };
      this.byUser.delete(user);
      return { status: 200, contacts: [] };
    }

    const changes: { key: string; contact: NameAddr; expires: number }[] = [];
    for (const text of contacts) {
      let contact: NameAddr;
      try {
        contact = parseNameAddr(text);
      } catch (error) {
        if (error instanceof SipSyntaxError) return { status: 400, reason: 'Bad Contact' };
        throw error;
      }
      const written = contact.params.get('expires') ?? headerExpires ?? String(this.options.defaultExpires);
      if (!/^\d{1,10}$/.test(written)) return { status: 400, reason: 'Bad Contact expires' };
      const expires = Math.min(Number(written), this.options.maxExpires);
      if (expires > 0 && expires < this.options.minExpires) {
        return { status: 423, reason: 'Interval Too Brief', minExpires: this.options.minExpires };
      }
      contact.params.delete('expires');
      const key = bindingKey(contact);
      if (outOfOrder(bindings.get(key))) return { status: 500, reason: 'Out of order REGISTER' };
      changes.push({ key, contact, expires });
    }

    // Refused rather than making room: dropping an older binding would cut off a browser that did nothing wrong.
    const kept = new Set(bindings.keys());
    for (const { key, expires } of changes) {
      if (expires === 0) kept.delete(key);
      else kept.add(key);
    }
    if (kept.size > this.options.maxBindingsPerUser) {
      return { status: 403, reason: `Too many registrations for this user (${this.options.maxBindingsPerUser})` };
    }

    for (const { key, contact, expires } of changes) {
      bindings.delete(key);
      if (expires === 0) continue;
      bindings.set(key, { contact, callId: request.callId, cseq: request.cseq.seq, expiresAt: this.now() + expires * 1000, flowId });
    }
    if (bindings.size > 0) this.byUser.set(user, bindings);
    else this.byUser.delete(user);
    return { status: 200, contacts: this.contactHeaders(bindings) };
  }

  bindings(user: string): Binding[] {
    return [...this.current(user).values()];
  }

  get size(): number {
    let count = 0;
    for (const bindings of this.byUser.values()) count += bindings.size;
    return count;
  }

  /** The WebSocket closed: its bindings cannot be reached any more. */
  dropFlow(flowId: number): void {
    for (const [user, bindings] of this.byUser) {
      for (const [key, binding] of bindings) if (binding.flowId === flowId) bindings.delete(key);
      if (bindings.size === 0) this.byUser.delete(user);
    }
  }

  dropUser(user: string): void {
    this.byUser.delete(user);
  }

  /** The user's bindings that have not expired; expired ones are forgotten on the way. */
  private current(user: string): Map<string, Binding> {
    const bindings = this.byUser.get(user) ?? new Map<string, Binding>();
    const now = this.now();
    for (const [key, binding] of bindings) if (binding.expiresAt <= now) bindings.delete(key);
    return bindings;
  }

  /** RFC 3261 10.3 step 8: every current binding, each with the seconds it has left. */
  private contactHeaders(bindings: Map<string, Binding>): string[] {
    const now = this.now();
    return [...bindings.values()].map((binding) => {
      const params = new Map(binding.contact.params).set('expires', String(Math.ceil((binding.expiresAt - now) / 1000)));
      return formatNameAddr({ ...binding.contact, params });
    });
  }
}

/** RFC 5626 4.2: an outbound client's binding is its instance and reg-id; otherwise the Contact URI. */
function bindingKey(contact: NameAddr): string {
  const instance = contact.params.get('+sip.instance');
  const regId = contact.params.get('reg-id');
  return instance ? `${instance} ${regId ?? ''}` : contact.uri.raw;
}
