/**
 * HTTP Digest authentication for SIP (RFC 3261 22.4, RFC 2617 / RFC 7616 with MD5 and qop=auth, which
 * every SIP stack speaks). Nonces are HMAC-signed with their issue time, so checking one needs no state;
 * the only state is the highest nonce count seen per nonce, kept for nonces that authenticated a request,
 * which is what stops a replayed Authorization header.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseAuthParams, quote } from './headers.js';

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: string | undefined;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
}

/** The fields of an `Authorization: Digest …` header, or undefined if it is not one. */
export function parseDigestCredentials(header: string): DigestCredentials | undefined {
  let parsed;
  try {
    parsed = parseAuthParams(header);
  } catch {
    return undefined;
  }
  const { scheme, params } = parsed;
  const [username, realm, nonce, uri, response] = ['username', 'realm', 'nonce', 'uri', 'response'].map((name) => params.get(name));
  if (scheme.toLowerCase() !== 'digest' || username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
    return undefined;
  }
  return { username, realm, nonce, uri, response, algorithm: params.get('algorithm'), qop: params.get('qop'), nc: params.get('nc'), cnonce: params.get('cnonce') };
}

export interface DigestInput {
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  /** With qop=auth, `nc` and `cnonce` enter the hash; without, RFC 2069's form is used. */
  qop?: { nc: string; cnonce: string };
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/** The `response` value a client computes (RFC 2617 3.2.2.1). */
export function digestResponse(input: DigestInput): string {
  const ha1 = md5(`${input.username}:${input.realm}:${input.password}`);
  const ha2 = md5(`${input.method}:${input.uri}`);
  return input.qop ? md5(`${ha1}:${input.nonce}:${input.qop.nc}:${input.qop.cnonce}:auth:${ha2}`) : md5(`${ha1}:${input.nonce}:${ha2}`);
}

/**
 * ok; wrong: the response does not match the password (or realm); stale: right password, but the nonce is
 * expired or not ours (a restart changes the key); replay: a nonce count already used; malformed: not the
 * scheme we offered (MD5, qop=auth, digest uri = Request-URI).
 */
export type DigestVerdict = 'ok' | 'wrong' | 'stale' | 'replay' | 'malformed';

export interface DigestOptions {
  realm: string;
  nonceLifetimeMs: number;
  /** Bounds the memory of used nonces; the oldest are forgotten first. */
  maxTrackedNonces?: number;
  now?: () => number;
}

const NONCE_PAYLOAD_BYTES = 16;
const NONCE_SIGNATURE_BYTES = 16;

export class DigestAuthenticator {
  readonly realm: string;
  private readonly secret = randomBytes(32);
  private readonly highestCount = new Map<string, { count: number; expiresAt: number }>();
  private readonly now: () => number;
  private readonly maxTrackedNonces: number;

  constructor(private readonly options: DigestOptions) {
    this.realm = options.realm;
    this.now = options.now ?? Date.now;
    this.maxTrackedNonces = options.maxTrackedNonces ?? 10_000;
  }

  /** The value of a WWW-Authenticate header. */
  challenge(stale = false): string {
    return `Digest realm=${quote(this.realm)}, nonce="${this.newNonce()}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  verify(credentials: DigestCredentials, method: string, requestUri: string, password: string): DigestVerdict {
    const { nc, cnonce } = credentials;
    const algorithm = credentials.algorithm ?? 'MD5';
    // We offered MD5 with qop=auth; RFC 2617 3.2.2.5 wants the digest uri to be the Request-URI.
    if (algorithm.toUpperCase() !== 'MD5' || credentials.qop !== 'auth' || !nc || !/^[0-9a-f]{8}$/i.test(nc) || !cnonce) return 'malformed';
    if (credentials.uri !== requestUri) return 'malformed';
    if (credentials.realm !== this.realm) return 'wrong';
    const expected = digestResponse({ ...credentials, method, password, qop: { nc, cnonce } });
    const given = Buffer.from(credentials.response.toLowerCase());
    if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected))) return 'wrong';
    const issuedAt = this.nonceIssuedAt(credentials.nonce);
    if (issuedAt === undefined || this.now() - issuedAt > this.options.nonceLifetimeMs) return 'stale';
    return this.recordCount(credentials.nonce, parseInt(nc, 16), issuedAt + this.options.nonceLifetimeMs) ? 'ok' : 'replay';
  }

  private newNonce(): string {
    const payload = Buffer.alloc(NONCE_PAYLOAD_BYTES);
    payload.writeDoubleBE(this.now(), 0);
    randomBytes(8).copy(payload, 8);
    return Buffer.concat([payload, this.sign(payload)]).toString('base64url');
  }

  private sign(payload: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(payload).digest().subarray(0, NONCE_SIGNATURE_BYTES);
  }

  /** The issue time of a nonce we signed, or undefined for anything else. */
  private nonceIssuedAt(nonce: string): number | undefined {
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== NONCE_PAYLOAD_BYTES + NONCE_SIGNATURE_BYTES) return undefined;
    const payload = bytes.subarray(0, NONCE_PAYLOAD_BYTES);
    if (!timingSafeEqual(this.sign(payload), bytes.subarray(NONCE_PAYLOAD_BYTES))) return undefined;
    return payload.readDoubleBE(0);
  }

  /** False when `count` is not above every count this nonce was used with before. */
  private recordCount(nonce: string, count: number, expiresAt: number): boolean {
    const previous = this.highestCount.get(nonce);
    if (previous && count <= previous.count) return false;
    this.highestCount.delete(nonce);
    const now = this.now();
    for (const [oldNonce, entry] of this.highestCount) {
      if (entry.expiresAt > now && this.highestCount.size < this.maxTrackedNonces) break;
      this.highestCount.delete(oldNonce);
    }
    this.highestCount.set(nonce, { count, expiresAt });
    return true;
  }
}
