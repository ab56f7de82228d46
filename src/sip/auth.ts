/**
 * Who is calling: the SIP user name CppComet's browsers use (`<dev_id as 6 digits><user_id>`) and the
 * digest check of a request against that user's users_auth key.
 */
import type { Logger } from 'pino';
import type { ConferenceModel } from '../conference/model.js';
import { SampledLog } from '../log.js';
import type { LoginThrottle } from '../security/loginThrottle.js';
import type { DevId, UserId } from '../domain.js';
import { parseDigestCredentials, type DigestAuthenticator, type DigestCredentials } from './digest.js';
import type { NameAddr } from './headers.js';
import type { SipRequest } from './message.js';

export interface SipIdentity {
  devId: DevId;
  userId: UserId;
  /** The SIP user name, e.g. `0000005`. */
  user: string;
}

/** The inverse of sipUser; undefined for anything else (CppComet read `%6d` then up to 9 digits). */
export function parseSipUser(user: string): SipIdentity | undefined {
  const match = /^(\d{6})([1-9]\d{0,8})$/.exec(user);
  if (!match) return undefined;
  return { devId: Number(match[1]), userId: Number(match[2]), user };
}

export type AuthOutcome =
  | { ok: true; identity: SipIdentity }
  | { ok: false; status: 400 | 401 | 403; reason: string; challenge?: string; retryAfterSeconds?: number };

export class SipAuthenticator {
  private readonly sampledLog: SampledLog;

  constructor(
    private readonly model: ConferenceModel,
    private readonly digest: DigestAuthenticator,
    log: Logger,
    /** Failed digests, per address and per user: while closed, credentials are refused unchecked. */
    private readonly throttle: LoginThrottle,
    /** Counts each refused login (for /metrics). */
    private readonly onFailure: () => void,
  ) {
    this.sampledLog = new SampledLog(log);
  }

  /**
   * Checks the request's digest credentials, sent from `address`. `claimed` is the address whose user the
   * credentials must be for: To for REGISTER (one registers only oneself), From for INVITE (one calls only
   * as oneself).
   */
  async authenticate(request: SipRequest, claimed: NameAddr, address: string): Promise<AuthOutcome> {
    const header = request.headers.get('Authorization');
    const credentials = header === undefined ? undefined : parseDigestCredentials(header);
    // Credentials for another realm (or none, or not Digest) are not an error: the client learns ours.
    if (!credentials || credentials.realm !== this.digest.realm) return this.challenge(false);
    const identity = parseSipUser(credentials.username);
    // Only a well-formed user name is a key: made-up long names must not fill the throttle's memory.
    return this.throttle.serialize(address, identity?.user, () => this.judge(request, claimed, address, credentials, identity));
  }

  private async judge(
    request: SipRequest,
    claimed: NameAddr,
    address: string,
    credentials: DigestCredentials,
    identity: SipIdentity | undefined,
  ): Promise<AuthOutcome> {
    const waitMs = this.throttle.retryAfterMs(address, identity?.user);
    if (waitMs > 0) {
      this.onFailure();
      this.sampledLog.warn('sip-login-throttled', { address }, 'SIP logins refused unchecked after repeated failures');
      return { ok: false, status: 403, reason: 'Too many failed logins', retryAfterSeconds: Math.ceil(waitMs / 1000) };
    }
    const refuse = (why: string): AuthOutcome => {
      this.throttle.failed(address, identity?.user);
      this.onFailure();
      this.sampledLog.warn('sip-login-failed', { user: identity?.user, address, method: request.method, why }, 'SIP authentication refused');
      return { ok: false, status: 403, reason: 'Forbidden' };
    };
    if (!identity) return refuse('not a <dev_id:6><user_id> user name');
    if (claimed.uri.user !== credentials.username) return refuse(`credentials are not for ${claimed.uri.user ?? 'the claimed user'}`);
    const [key] = await this.model.findKeys(identity.devId, [identity.userId]);
    if (!key) return refuse('no key');
    const verdict = this.digest.verify(credentials, request.method, request.uri.raw, key.hash);
    switch (verdict) {
      case 'ok':
        this.throttle.succeeded(address, identity.user);
        return { ok: true, identity };
      case 'stale':
      case 'replay':
        // A replayed header is refused, but an honest client that somehow reused a count may try afresh.
        if (verdict === 'replay') this.sampledLog.warn('sip-digest-replay', { user: identity.user, method: request.method }, 'SIP digest nonce count replayed');
        return this.challenge(true);
      case 'wrong':
        return refuse('wrong digest');
      case 'malformed':
        return { ok: false, status: 400, reason: 'Bad Authorization (MD5, qop=auth and uri = Request-URI expected)' };
    }
  }

  private challenge(stale: boolean): AuthOutcome {
    return { ok: false, status: 401, reason: 'Unauthorized', challenge: this.digest.challenge(stale) };
  }
}
