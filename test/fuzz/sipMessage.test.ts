import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSipUser } from '../../src/sip/auth.js';
import { parseDigestCredentials } from '../../src/sip/digest.js';
import { parseAuthParams, parseNameAddr, parseParams, parseUri, parseVia, SipSyntaxError, splitOutside } from '../../src/sip/headers.js';
import { contentType, formatReply, parseMessage, SipParseError, type SipMessageBase } from '../../src/sip/message.js';
import { offerProblem, sameMediaSession } from '../../src/sip/sdp.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';
import { mutated, quick, sipFrame } from './sipInputs.js';

/**
 * The SIP message parser, and what the server reads out of a message it parsed (Contacts, digest
 * credentials, the SIP user, the SDP's bounds), with what it answers: a frame either parses or throws
 * SipParseError, nothing else, in linear time; a reply to it parses again as the response it is.
 */

/** What the server does with what it read: none of it may throw anything but the syntax errors it handles. */
function readLikeTheServer(message: SipMessageBase): void {
  for (const contact of message.headers.all('Contact')) {
    try {
      parseNameAddr(contact);
    } catch (error) {
      if (!(error instanceof SipSyntaxError)) throw error;
    }
  }
  const authorization = message.headers.get('Authorization');
  const credentials = authorization === undefined ? undefined : parseDigestCredentials(authorization);
  if (credentials) parseSipUser(credentials.username);
  contentType(message);
  offerProblem(message.body);
  expect(sameMediaSession(message.body, message.body)).toBe(true);
}

/** Our reply to what we parsed is itself a message, addressed to the same transaction. */
function replyParses(request: SipMessageBase, status: number, reason?: string): void {
  const reply = parseMessage(formatReply(request, status, { toTag: 'ours', reason }));
  expect(reply).toMatchObject({ kind: 'response', status, callId: request.callId, cseq: request.cseq });
}

/** Each header grammar, on values longer than a message may carry: linear time is theirs, not the line limit's. */
const HEADER_PARSERS: Record<string, (value: string) => unknown> = {
  via: parseVia,
  uri: parseUri,
  nameAddr: parseNameAddr,
  params: parseParams,
  auth: parseAuthParams,
  list: (value) => splitOutside(value, ','),
  digest: parseDigestCredentials,
};

const HEADER_VALUES = [
  'SIP/2.0/WSS 165qmlcp4059.invalid;branch=z9hG4bK7510028;rport',
  'SIP / 2.0 / ws [2001:db8::1]:5060 ; branch=z9hG4bKx ; received=1.2.3.4',
  'sip:0%2A101%2Avideo@example.com:5060;transport=ws?subject=x',
  '"Doe, \\"J\\"" <sip:7m0v20bn@abc.invalid;transport=ws;ob>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:7ef3e8d8>";expires=600',
  'sip:j@example.com;tag=9',
  'Digest algorithm=MD5, username="0000005", realm="example.com", nonce="n1", uri="sip:example.com", response="6b35", qop=auth, cnonce="o2m4", nc=00000001',
  'INVITE, ACK, CANCEL, "a,b" <sip:x>, <sip:y;a=b,c>',
];

const headerValue = fc.record({
  parser: fc.constantFrom(...Object.keys(HEADER_PARSERS)),
  value: mutated(HEADER_VALUES, ['"', '<', '>', ';', ',', '=', ':', '@', '[', ']', '\\', ' ', 'sip:', 'SIP/2.0/', '%'], 60_000),
});

describe('fuzzing the SIP message parser', () => {
  it('header values: each grammar parses or throws SipSyntaxError, in linear time', async () => {
    await fuzz('sip-header-values', headerValue, ({ parser, value }) =>
      quick(`the ${parser} grammar`, () => {
        try {
          HEADER_PARSERS[parser]!(value);
        } catch (error) {
          if (!(error instanceof SipSyntaxError)) throw error;
        }
      }),
    );
  }, fuzzTimeoutMs());

  it('parses or throws SipParseError, in linear time; what it reads and what we answer hold up', async () => {
    await fuzz('sip-message', sipFrame, (bytes) =>
      quick('parsing and answering one frame', () => {
        let message;
        try {
          message = parseMessage(bytes);
        } catch (error) {
          if (!(error instanceof SipParseError)) throw error;
          // The transport answers these with the problem as the reason phrase.
          if (error.replyTo) replyParses(error.replyTo, error.status, error.message.slice(0, 160).replace(/[^\x20-\x7E]/g, '?'));
          return;
        }
        readLikeTheServer(message);
        if (message.kind === 'request') replyParses(message, 200);
      }),
    );
  }, fuzzTimeoutMs());
});
