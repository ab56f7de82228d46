import { describe, expect, it } from 'vitest';
import { sipUser } from '../../src/domain.js';
import { parseSipUser } from '../../src/sip/auth.js';
import { DigestAuthenticator, digestResponse, parseDigestCredentials, type DigestCredentials } from '../../src/sip/digest.js';
import { parseAuthParams } from '../../src/sip/headers.js';

describe('digest authentication', () => {
  it('computes the RFC 2617 section 3.5 example response', () => {
    expect(
      digestResponse({
        username: 'Mufasa',
        realm: 'testrealm@host.com',
        password: 'Circle Of Life',
        method: 'GET',
        uri: '/dir/index.html',
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        qop: { nc: '00000001', cnonce: '0a4f113b' },
      }),
    ).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('reads the Authorization header JsSIP sends', () => {
    const header =
      'Digest algorithm=MD5, username="0000005", realm="example.com", nonce="n1", uri="sip:example.com", response="6b354166f97072db745fac2517a121b1", qop=auth, cnonce="o2m4dfmn2nsa", nc=00000001';
    expect(parseDigestCredentials(header)).toEqual({
      username: '0000005', realm: 'example.com', nonce: 'n1', uri: 'sip:example.com', response: '6b354166f97072db745fac2517a121b1',
      algorithm: 'MD5', qop: 'auth', nc: '00000001', cnonce: 'o2m4dfmn2nsa',
    });
    expect(parseDigestCredentials('Bearer abc.def')).toBeUndefined();
    expect(parseDigestCredentials('Digest username="x"')).toBeUndefined();
    expect(parseDigestCredentials('Digest username="x, realm=')).toBeUndefined();
  });

  describe('an authenticator', () => {
    let clock = 1_000_000;
    const digest = new DigestAuthenticator({ realm: 'example.com', nonceLifetimeMs: 60_000, now: () => clock });
    const uri = 'sip:example.com';
    const answer = (challenge: string, password: string, nc = '00000001', changes: Partial<DigestCredentials> = {}): DigestCredentials => {
      const nonce = parseAuthParams(challenge).params.get('nonce') ?? '';
      const base = { username: '0000005', realm: 'example.com', nonce, uri, algorithm: 'MD5', qop: 'auth', nc, cnonce: 'c0ffee', ...changes };
      const response = digestResponse({ ...base, password, method: 'REGISTER', qop: { nc: base.nc, cnonce: base.cnonce } });
      return { ...base, response };
    };

    it('challenges with MD5, qop=auth and a signed nonce', () => {
      const { scheme, params } = parseAuthParams(digest.challenge());
      expect(scheme).toBe('Digest');
      expect(Object.fromEntries(params)).toMatchObject({ realm: 'example.com', algorithm: 'MD5', qop: 'auth' });
      expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(parseAuthParams(digest.challenge(true)).params.get('stale')).toBe('true');
    });

    it('accepts the right password and refuses a wrong one', () => {
      expect(digest.verify(answer(digest.challenge(), 'key5'), 'REGISTER', uri, 'key5')).toBe('ok');
      expect(digest.verify(answer(digest.challenge(), 'nope'), 'REGISTER', uri, 'key5')).toBe('wrong');
      expect(digest.verify(answer(digest.challenge(), 'key5'), 'INVITE', uri, 'key5')).toBe('wrong');
    });

    it('says stale for an expired nonce or one it did not sign, when the password was right', () => {
      const challenge = digest.challenge();
      clock += 60_001;
      expect(digest.verify(answer(challenge, 'key5'), 'REGISTER', uri, 'key5')).toBe('stale');
      expect(digest.verify(answer(challenge, 'nope'), 'REGISTER', uri, 'key5')).toBe('wrong');
      const forged = answer(digest.challenge(), 'key5', '00000001', { nonce: 'Qnof7tfToADYpvNbFaVi1v2wZn-q1-0Whtj08Pr6REw' });
      expect(digest.verify(forged, 'REGISTER', uri, 'key5')).toBe('stale');
      const otherServer = new DigestAuthenticator({ realm: 'example.com', nonceLifetimeMs: 60_000, now: () => clock });
      expect(digest.verify(answer(otherServer.challenge(), 'key5'), 'REGISTER', uri, 'key5')).toBe('stale');
    });

    it('refuses a replayed nonce count and accepts the next one', () => {
      const challenge = digest.challenge();
      const first = answer(challenge, 'key5');
      expect(digest.verify(first, 'REGISTER', uri, 'key5')).toBe('ok');
      expect(digest.verify(first, 'REGISTER', uri, 'key5')).toBe('replay');
      expect(digest.verify(answer(challenge, 'key5', '00000002'), 'REGISTER', uri, 'key5')).toBe('ok');
      expect(digest.verify(answer(challenge, 'key5', '00000002'), 'REGISTER', uri, 'key5')).toBe('replay');
    });

    it('calls anything but MD5 with qop=auth for this Request-URI malformed', () => {
      const challenge = digest.challenge();
      expect(digest.verify(answer(challenge, 'key5', '00000001', { qop: undefined }), 'REGISTER', uri, 'key5')).toBe('malformed');
      expect(digest.verify(answer(challenge, 'key5', '00000001', { algorithm: 'SHA-256' }), 'REGISTER', uri, 'key5')).toBe('malformed');
      expect(digest.verify(answer(challenge, 'key5', '1'), 'REGISTER', uri, 'key5')).toBe('malformed');
      expect(digest.verify(answer(challenge, 'key5', '00000001', { uri: 'sip:other.com' }), 'REGISTER', uri, 'key5')).toBe('malformed');
    });

    it('forgets the oldest used nonces beyond its bound', () => {
      const small = new DigestAuthenticator({ realm: 'r', nonceLifetimeMs: 60_000, maxTrackedNonces: 2, now: () => clock });
      const use = (challenge: string) => {
        const credentials = { ...answer(challenge, 'k'), realm: 'r' };
        credentials.response = digestResponse({ ...credentials, password: 'k', method: 'REGISTER', qop: { nc: '00000001', cnonce: 'c0ffee' } });
        return small.verify(credentials, 'REGISTER', uri, 'k');
      };
      const [a, b, c] = [small.challenge(), small.challenge(), small.challenge()];
      expect([use(a), use(b), use(c)]).toEqual(['ok', 'ok', 'ok']);
      expect([use(c), use(b)]).toEqual(['replay', 'replay']);
      // `a` was forgotten: bounded memory trades away replay detection for the oldest nonce only.
      expect(use(a)).toBe('ok');
    });
  });
});

describe('SIP user names', () => {
  it('are the dev_id in 6 digits followed by the user id', () => {
    expect(sipUser(0, 5)).toBe('0000005');
    expect(sipUser(15, 1)).toBe('0000151');
    expect(parseSipUser('0000151')).toEqual({ devId: 15, userId: 1, user: '0000151' });
    expect(parseSipUser('000000123456789')).toEqual({ devId: 0, userId: 123456789, user: '000000123456789' });
    for (const bad of ['000000', '0000000', '00000a5', '5', '0000001234567890', ' 0000005']) expect(parseSipUser(bad)).toBeUndefined();
  });
});
