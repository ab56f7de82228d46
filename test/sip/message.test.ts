import { describe, expect, it } from 'vitest';
import { formatNameAddr, parseNameAddr, parseUri, parseVia, sameUri } from '../../src/sip/headers.js';
import { formatReply, parseMessage, SipParseError, tagOf, type SipRequest } from '../../src/sip/message.js';

const crlf = (lines: string[]): string => lines.join('\r\n');

/** Captured from JsSIP 3.13.8 (`ws://` URL), with only the random tokens shortened. */
const JSSIP_REGISTER = crlf([
  'REGISTER sip:example.com SIP/2.0',
  'Via: SIP/2.0/WS 165qmlcp4059.invalid;branch=z9hG4bK7510028',
  'Max-Forwards: 69',
  'To: <sip:0000005@example.com>',
  'From: "0000005" <sip:0000005@example.com>;tag=73hqce997i',
  'Call-ID: udlnes5kuco5vjrji9i7fp',
  'CSeq: 2 REGISTER',
  'Authorization: Digest algorithm=MD5, username="0000005", realm="example.com", nonce="n1", uri="sip:example.com", response="6b354166f97072db745fac2517a121b1", qop=auth, cnonce="o2m4dfmn2nsa", nc=00000001',
  'Expires: 600',
  'Contact: <sip:7m0v20bn@165qmlcp4059.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:7ef3e8d8-d168-40dc-a1ea-c5d20ba8caca>";expires=600',
  'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY,SUBSCRIBE',
  'Supported: path,gruu,outbound',
  'User-Agent: JsSIP 3.13.8',
  'Content-Length: 0',
  '',
  '',
]);

// The session name carries non-ASCII on purpose: Content-Length counts bytes, not characters.
const SDP = crlf([
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=Žofie',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:Xl6e',
  'a=ice-pwd:Qb0mJ5ZyVuH3sG7Z2j0wHqlS',
  'a=fingerprint:sha-256 9C:0E:5E:9A:7B:29:0F:6B:60:47:2A:32:C5:42:25:C4:36:48:2B:7D:67:33:66:5B:36:33:AB:0A:2C:45:9E:21',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtpmap:111 opus/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=sendrecv',
  'a=rtpmap:96 VP8/90000',
  '',
]);

/** As JsSIP 3 sends an authenticated INVITE over wss:// (RFC 7118 Via, GRUU-less Contact with `ob`). */
const JSSIP_INVITE = crlf([
  'INVITE sip:0*101*video@example.com SIP/2.0',
  'Via: SIP/2.0/WSS abcdef.invalid;branch=z9hG4bK5868756',
  'Max-Forwards: 69',
  'To: <sip:0*101*video@example.com>',
  'From: "0000005" <sip:0000005@example.com>;tag=h1us7tbf5i',
  'Call-ID: cpnr6qqop8f1g7v4uuq8',
  'CSeq: 9195 INVITE',
  'Contact: <sip:43b47eds@abcdef.invalid;transport=ws;ob>',
  'Content-Type: application/sdp',
  'Session-Expires: 90',
  'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
  'Supported: timer,ice,replaces,outbound',
  'User-Agent: JsSIP 3.10.0',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
]);

const inDialog = (method: string, cseq: number): string =>
  crlf([
    `${method} sip:cometmcu@example.com:8087;transport=ws SIP/2.0`,
    'Via: SIP/2.0/WSS abcdef.invalid;branch=z9hG4bK6964580',
    'Max-Forwards: 69',
    'To: <sip:0*101*video@example.com>;tag=f6d4200439627756',
    'From: "0000005" <sip:0000005@example.com>;tag=h1us7tbf5i',
    'Call-ID: cpnr6qqop8f1g7v4uuq8',
    `CSeq: ${cseq} ${method}`,
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
    'Supported: outbound',
    'User-Agent: JsSIP 3.10.0',
    'Content-Length: 0',
    '',
    '',
  ]);

const request = (text: string | Buffer): SipRequest => {
  const message = parseMessage(text);
  if (message.kind !== 'request') throw new Error('expected a request');
  return message;
};

/** The SipParseError a frame throws. */
const failure = (text: string | Buffer): SipParseError => {
  try {
    parseMessage(text);
  } catch (error) {
    if (error instanceof SipParseError) return error;
    throw error;
  }
  throw new Error('parsed without error');
};

describe('SIP message parsing: what JsSIP 3 sends', () => {
  it('reads a REGISTER: Via, From/To with tags, CSeq, the outbound Contact and its parameters', () => {
    const register = request(JSSIP_REGISTER);
    expect(register).toMatchObject({ method: 'REGISTER', callId: 'udlnes5kuco5vjrji9i7fp', cseq: { seq: 2, method: 'REGISTER' }, body: '' });
    expect(register.uri).toMatchObject({ scheme: 'sip', user: undefined, host: 'example.com', raw: 'sip:example.com' });
    expect(register.vias).toHaveLength(1);
    expect(register.vias[0]).toMatchObject({ transport: 'WS', host: '165qmlcp4059.invalid', port: undefined });
    expect(register.vias[0]?.params.get('branch')).toBe('z9hG4bK7510028');
    expect(register.from.display).toBe('0000005');
    expect(register.from.uri.user).toBe('0000005');
    expect(tagOf(register.from)).toBe('73hqce997i');
    expect(tagOf(register.to)).toBeUndefined();
    const contact = parseNameAddr(register.headers.all('Contact')[0] ?? '');
    expect(contact.uri.params.get('transport')).toBe('ws');
    expect(contact.params.get('+sip.instance')).toBe('"<urn:uuid:7ef3e8d8-d168-40dc-a1ea-c5d20ba8caca>"');
    expect(contact.params.get('reg-id')).toBe('1');
    expect(contact.params.get('+sip.ice')).toBeNull();
    expect(contact.params.get('expires')).toBe('600');
    expect(register.headers.all('Allow')).toContain('SUBSCRIBE');
    expect(register.headers.all('supported')).toEqual(['path', 'gruu', 'outbound']);
  });

  it('reads an INVITE whose SDP body is measured in bytes', () => {
    const invite = request(JSSIP_INVITE);
    expect(invite.uri.user).toBe('0*101*video');
    expect(invite.vias[0]?.transport).toBe('WSS');
    expect(invite.body).toBe(SDP);
    expect(Buffer.byteLength(invite.body)).toBe(invite.body.length + 1);
  });

  it('reads ACK, BYE and CANCEL', () => {
    for (const [method, cseq] of [['ACK', 9195], ['BYE', 9196], ['CANCEL', 9195]] as const) {
      const message = request(inDialog(method, cseq));
      expect(message).toMatchObject({ method, cseq: { seq: cseq, method } });
      expect(tagOf(message.to)).toBe('f6d4200439627756');
    }
  });

  it('reads compact header names, lists of Vias in one field, and folded lines', () => {
    const message = request(
      crlf([
        'OPTIONS sip:example.com SIP/2.0',
        'v: SIP/2.0/WSS a.invalid;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2;rport',
        'Via: SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK3',
        'f: <sip:0000005@example.com>;tag=1',
        't: sip:0000005@example.com',
        'i: abc',
        'CSeq: 7',
        '  OPTIONS',
        'k: outbound',
        'l: 0',
        '',
        '',
      ]),
    );
    expect(message.vias.map((via) => `${via.transport} ${via.host}:${via.port ?? ''}`)).toEqual(['WSS a.invalid:', 'UDP 10.0.0.1:5060', 'TCP [2001:db8::1]:5061']);
    expect(message.vias[1]?.params.get('rport')).toBeNull();
    expect(message.cseq).toEqual({ seq: 7, method: 'OPTIONS' });
    expect(message.callId).toBe('abc');
    expect(message.headers.get('Supported')).toBe('outbound');
    expect(message.to.uri.user).toBe('0000005');
  });

  it('reads a response', () => {
    const response = parseMessage(
      crlf(['SIP/2.0 200 OK', 'Via: SIP/2.0/WS cometmcu;branch=z9hG4bKx', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>;tag=2', 'Call-ID: x', 'CSeq: 1 BYE', 'Content-Length: 0', '', '']),
    );
    expect(response).toMatchObject({ kind: 'response', status: 200, reason: 'OK', cseq: { seq: 1, method: 'BYE' } });
  });

  it('answers with the request’s Vias, From, To plus a tag, Call-ID and CSeq', () => {
    const invite = request(JSSIP_INVITE);
    invite.vias[0]?.params.set('received', '127.0.0.1');
    const reply = parseMessage(formatReply(invite, 486, { toTag: 'ours', headers: [['Reason', 'Q.850;cause=17']] }));
    expect(reply).toMatchObject({ kind: 'response', status: 486, reason: 'Busy Here', callId: invite.callId, cseq: invite.cseq });
    expect(reply.headers.get('Via')).toBe('SIP/2.0/WSS abcdef.invalid;branch=z9hG4bK5868756;received=127.0.0.1');
    expect(reply.headers.get('From')).toBe(invite.headers.get('From'));
    expect(reply.headers.get('To')).toBe('<sip:0*101*video@example.com>;tag=ours');
    expect(reply.headers.get('Content-Length')).toBe('0');
    // 100 Trying never carries a tag, and an existing tag is kept.
    expect(parseMessage(formatReply(invite, 100, { toTag: 'ours' })).headers.get('To')).toBe('<sip:0*101*video@example.com>');
  });
});

describe('SIP message parsing: malformed input fails alone', () => {
  it('drops what it cannot answer: a bad start line, no CSeq, binary noise, no end of headers', () => {
    expect(failure('HELLO\r\n\r\n').replyTo).toBeUndefined();
    expect(failure(JSSIP_REGISTER.replace('CSeq: 2 REGISTER\r\n', '')).replyTo).toBeUndefined();
    expect(failure(JSSIP_REGISTER.replace('CSeq: 2 REGISTER', 'CSeq: two REGISTER')).replyTo).toBeUndefined();
    expect(failure(JSSIP_REGISTER.replace(/Via: .*\r\n/, '')).message).toBe('no Via header');
    expect(failure(Buffer.from([0x52, 0x45, 0x47, 0xff, 0xfe, 0x00, 0x0d, 0x0a, 0x0d, 0x0a])).replyTo).toBeUndefined();
    expect(failure(JSSIP_REGISTER.replace(/\r\n\r\n$/, '')).message).toBe('no empty line after the headers');
    expect(failure(`${JSSIP_REGISTER.replace(/\r\n\r\n$/, '')}\r\nTo: <sip:x@y>\r\n\r\n`).message).toBe('2 To headers');
  });

  it('answers 400 when Content-Length is wrong, naming the problem', () => {
    const short = failure(JSSIP_INVITE.replace(/Content-Length: \d+/, 'Content-Length: 5000'));
    expect(short.status).toBe(400);
    expect(short.message).toMatch(/Content-Length 5000 does not match/);
    expect(short.replyTo?.callId).toBe('cpnr6qqop8f1g7v4uuq8');
    expect(failure(JSSIP_INVITE.replace(/Content-Length: \d+/, 'Content-Length: -1')).status).toBe(400);
    // Counting characters instead of bytes is wrong too.
    expect(failure(JSSIP_INVITE.replace(/Content-Length: \d+/, `Content-Length: ${SDP.length}`)).replyTo).toBeDefined();
  });

  it('answers 400 for a header line that is not one, control characters, or too many headers', () => {
    expect(failure(JSSIP_REGISTER.replace('Expires: 600', 'Expires 600')).replyTo).toBeDefined();
    expect(failure(JSSIP_REGISTER.replace('Expires: 600', 'Expires: 6\u000100')).message).toMatch(/malformed header line/);
    const huge = JSSIP_REGISTER.replace('Expires: 600', Array.from({ length: 150 }, (_, i) => `X-Filler-${i}: ${'x'.repeat(300)}`).join('\r\n'));
    const tooMany = failure(huge);
    expect(tooMany.message).toBe('more than 100 header fields');
    expect(tooMany.replyTo?.cseq.method).toBe('REGISTER');
  });

  it('answers 513 to a header line over 8192 characters or a message over 64 KiB, 414 to a Request-URI over 8192', () => {
    const longHeader = failure(JSSIP_REGISTER.replace('Expires: 600', `X-Long: ${'x'.repeat(8200)}`));
    expect(longHeader).toMatchObject({ status: 513, message: 'header line longer than 8192 characters' });
    expect(longHeader.replyTo?.callId).toBe('udlnes5kuco5vjrji9i7fp');
    const body = 'x'.repeat(66_000);
    const large = failure(JSSIP_REGISTER.replace('Content-Length: 0\r\n\r\n', `Content-Length: ${body.length}\r\n\r\n${body}`));
    expect(large).toMatchObject({ status: 513, message: 'message longer than 65536 bytes' });
    expect(large.replyTo).toBeDefined();
    const longUri = failure(JSSIP_REGISTER.replace('REGISTER sip:example.com', `REGISTER sip:${'a'.repeat(8200)}@example.com`));
    expect(longUri).toMatchObject({ status: 414 });
    expect(longUri.replyTo).toBeDefined();
    // Within the bounds, as long as they allow: still a message.
    expect(request(JSSIP_REGISTER.replace('Expires: 600', `X-Long: ${'x'.repeat(8000)}`)).headers.get('X-Long')).toHaveLength(8000);
  });

  it('reads a Via padded with whitespace in linear time (a quadratic regex stalled the event loop for seconds)', () => {
    const spaces = ' '.repeat(60_000);
    const started = performance.now();
    expect(() => parseVia(`SIP/2.0/WS a${spaces}b`)).toThrow(/bad host/);
    expect(parseVia(`SIP/2.0/WS host.invalid${spaces};branch=z9hG4bKx`).host).toBe('host.invalid');
    // Linear: about a millisecond; the quadratic one took about 9 s.
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('answers 400 to a list header that cannot be split (an unterminated quote), so reading its elements never throws', () => {
    for (const header of ['Contact: "Doe <sip:j@example.com>', 'Require: "timer', 'Via: SIP/2.0/WS a.invalid;x="y']) {
      const bad = failure(JSSIP_REGISTER.replace('Expires: 600', header));
      expect(bad.status).toBe(400);
      expect(bad.message).toMatch(/^malformed (Contact|Require|Via) list$|^unterminated quoted string$/);
    }
    expect(failure(JSSIP_REGISTER.replace('Expires: 600', 'Contact: "Doe <sip:j@example.com>')).replyTo?.callId).toBe('udlnes5kuco5vjrji9i7fp');
  });

  it('answers 505 to another SIP version, 416 to another URI scheme, 400 to a CSeq of another method', () => {
    expect(failure(JSSIP_REGISTER.replace('sip:example.com SIP/2.0', 'sip:example.com SIP/3.0')).status).toBe(505);
    expect(failure(JSSIP_REGISTER.replace('REGISTER sip:example.com', 'REGISTER tel:+15551234')).status).toBe(416);
    expect(failure(JSSIP_REGISTER.replace('CSeq: 2 REGISTER', 'CSeq: 2 INVITE')).message).toMatch(/CSeq method INVITE differs/);
  });

  it('throws nothing but SipParseError, whatever bytes of a real message are changed', () => {
    let seed = 42;
    const random = (below: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % below;
    };
    const original = Buffer.from(JSSIP_INVITE);
    for (let round = 0; round < 3000; round++) {
      const bytes = Buffer.from(original.subarray(0, original.length - random(40)));
      for (let change = random(8); change >= 0; change--) bytes[random(bytes.length)] = random(256);
      try {
        parseMessage(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(SipParseError);
      }
    }
  });

  it('tolerates bare LF line ends and keep-alive CRLFs before the start line', () => {
    const message = request(`\r\n\r\n${JSSIP_REGISTER}`.replace(/\r\n/g, '\n'));
    expect(message.method).toBe('REGISTER');
  });
});

describe('SIP header grammar', () => {
  it('parses SIP URIs with users, escapes, IPv6 hosts, ports and parameters', () => {
    expect(parseUri('sip:0%2A101%2Avideo@example.com:5060;transport=ws')).toMatchObject({ user: '0*101*video', host: 'example.com', port: 5060 });
    expect(parseUri('sips:[2001:db8::1]:5061')).toMatchObject({ scheme: 'sips', user: undefined, host: '[2001:db8::1]', port: 5061 });
    expect(() => parseUri('tel:+15551234')).toThrow(/not a SIP URI/);
    expect(() => parseUri('sip:a@exa mple.com')).toThrow(/bad host/);
    expect(() => parseUri('sip:%zz@example.com')).toThrow(/bad escape/);
  });

  it('parses name-addr and addr-spec, where parameters after a bare URI belong to the header', () => {
    const quoted = parseNameAddr('"Doe, \\"J\\"" <sip:j@example.com;transport=ws>;tag=9');
    expect(quoted).toMatchObject({ display: 'Doe, "J"', uri: { user: 'j' } });
    expect(quoted.uri.params.get('transport')).toBe('ws');
    expect(quoted.params.get('tag')).toBe('9');
    const bare = parseNameAddr('sip:j@example.com;tag=9');
    expect(bare.params.get('tag')).toBe('9');
    expect(bare.uri.params.size).toBe(0);
    expect(formatNameAddr(quoted)).toBe('"Doe, \\"J\\"" <sip:j@example.com;transport=ws>;tag=9');
    expect(() => parseNameAddr('<sip:j@example.com')).toThrow(/missing ">"/);
  });

  it('compares URIs as RFC 3261 19.1.4 does: host and parameter values in any case, most one-sided parameters ignored', () => {
    const same = (a: string, b: string) => sameUri(parseUri(a), parseUri(b));
    expect(same('sip:xyz@Abc.invalid;transport=ws;ob', 'sip:xyz@abc.invalid;transport=WS')).toBe(true);
    expect(same('sip:xyz@abc.invalid;transport=ws', 'sip:xyz@abc.invalid')).toBe(false);
    expect(same('sip:xyz@abc.invalid;lr=1', 'sip:xyz@abc.invalid;lr=2')).toBe(false);
    expect(same('sip:XYZ@abc.invalid', 'sip:xyz@abc.invalid')).toBe(false);
    expect(same('sip:xyz@abc.invalid:5060', 'sip:xyz@abc.invalid')).toBe(false);
    expect(same('sips:xyz@abc.invalid', 'sip:xyz@abc.invalid')).toBe(false);
  });

  it('rejects a Via that is not SIP/2.0', () => {
    expect(() => parseVia('SIP/1.0/UDP host')).toThrow(/bad Via/);
    expect(parseVia('SIP / 2.0 / ws host.invalid ; branch=z9hG4bKx').transport).toBe('WS');
  });
});
