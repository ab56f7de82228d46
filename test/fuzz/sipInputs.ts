import fc from 'fast-check';

/**
 * Hostile inputs for the in-process SIP and SDP targets: real messages (as JsSIP and Chromium write them)
 * with bytes cut out and pieces put in, among them long runs of one character, the input that makes a
 * backtracking regular expression take quadratic time.
 */

const crlf = (lines: string[]): string => lines.join('\r\n');

/** An offer as Chromium makes it for a camera and a microphone (tokens shortened). */
export const BROWSER_OFFER = crlf([
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=extmap-allow-mixed', 'a=msid-semantic: WMS stream',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 110', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0 network-id 1',
  'a=candidate:2 1 udp 2122194687 a1b2c3d4-0000.local 54322 typ host generation 0',
  'a=ice-ufrag:Xl6e', 'a=ice-pwd:Qb0mJ5ZyVuH3sG7Z2j0wHqlS', 'a=ice-options:trickle',
  'a=fingerprint:sha-256 9C:0E:5E:9A:7B:29:0F:6B:60:47:2A:32:C5:42:25:C4:36:48:2B:7D:67:33:66:5B:36:33:AB:0A:2C:45:9E:21',
  'a=setup:actpass', 'a=mid:0', 'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'a=sendrecv', 'a=msid:stream audio0', 'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2', 'a=rtcp-fb:111 transport-cc', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:63 red/48000/2', 'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:110 telephone-event/48000', 'a=ssrc:1001 cname:abcd',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0', 'a=ice-ufrag:Xl6e', 'a=ice-pwd:Qb0mJ5ZyVuH3sG7Z2j0wHqlS',
  'a=fingerprint:sha-256 9C:0E:5E:9A:7B:29:0F:6B:60:47:2A:32:C5:42:25:C4:36:48:2B:7D:67:33:66:5B:36:33:AB:0A:2C:45:9E:21',
  'a=setup:actpass', 'a=mid:1', 'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', 'a=sendrecv', 'a=msid:stream video0', 'a=rtcp-mux',
  'a=rtcp-rsize', 'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 goog-remb', 'a=rtcp-fb:96 ccm fir', 'a=rtcp-fb:96 nack', 'a=rtcp-fb:96 nack pli',
  'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96', 'a=rtpmap:102 H264/90000', 'a=rtcp-fb:102 nack pli',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f', 'a=rtpmap:103 rtx/90000', 'a=fmtp:103 apt=102',
  'a=ssrc-group:FID 2001 2002', 'a=ssrc:2001 cname:abcd', 'a=ssrc:2002 cname:abcd', '',
]);

/** Messages as JsSIP 3 sends them over WebSocket, and a response. */
export const SIP_MESSAGES = [
  crlf([
    'REGISTER sip:example.com SIP/2.0', 'Via: SIP/2.0/WSS 165qmlcp4059.invalid;branch=z9hG4bK7510028', 'Max-Forwards: 69', 'To: <sip:0000005@example.com>',
    'From: "0000005" <sip:0000005@example.com>;tag=73hqce997i', 'Call-ID: udlnes5kuco5vjrji9i7fp', 'CSeq: 2 REGISTER',
    'Authorization: Digest algorithm=MD5, username="0000005", realm="example.com", nonce="n1", uri="sip:example.com", response="6b354166f97072db745fac2517a121b1", qop=auth, cnonce="o2m4dfmn2nsa", nc=00000001',
    'Expires: 600', 'Contact: <sip:7m0v20bn@165qmlcp4059.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:7ef3e8d8-d168-40dc-a1ea-c5d20ba8caca>";expires=600',
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY,SUBSCRIBE', 'Supported: path,gruu,outbound', 'User-Agent: JsSIP 3.13.8', 'Content-Length: 0', '', '',
  ]),
  crlf([
    'INVITE sip:0*101*video@example.com SIP/2.0', 'Via: SIP/2.0/WSS abcdef.invalid;branch=z9hG4bK5868756', 'Max-Forwards: 69', 'To: <sip:0*101*video@example.com>',
    'From: "0000005" <sip:0000005@example.com>;tag=h1us7tbf5i', 'Call-ID: cpnr6qqop8f1g7v4uuq8', 'CSeq: 9195 INVITE',
    'Contact: <sip:43b47eds@abcdef.invalid;transport=ws;ob>', 'Content-Type: application/sdp', 'Session-Expires: 90', 'Supported: timer,ice,replaces,outbound',
    `Content-Length: ${Buffer.byteLength(BROWSER_OFFER)}`, '', BROWSER_OFFER,
  ]),
  crlf([
    'SIP/2.0 200 OK', 'Via: SIP/2.0/WS 127.0.0.1:8087;branch=z9hG4bKabc;received=127.0.0.1', 'From: <sip:cometmcu@127.0.0.1>;tag=1', 'To: <sip:0000005@127.0.0.1>;tag=2',
    'Call-ID: x1', 'CSeq: 1 BYE', 'Content-Length: 0', '', '',
  ]),
];

/** Characters that SIP and SDP grammars give a meaning to, and separators. */
const RUN_CHARACTERS = [' ', '\t', ';', ',', '"', '<', '>', ':', '@', '\\', '=', '/', '.', '[', ']', '%', '*', 'a', '0', '\r\n', '\n', '\r\n ', 'm=audio 9 RTP/AVP 0\r\n'];

/** One character (or line) many times over, up to `maxLength` characters. */
const run = (maxLength: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.constantFrom(...RUN_CHARACTERS), fc.integer({ min: 1, max: maxLength }))
    .map(([text, length]) => text.repeat(Math.max(1, Math.floor(length / text.length))));

/** A piece to put in: a word of the grammar, a run, or any text. */
const piece = (vocabulary: readonly string[], maxRun: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...vocabulary) },
    { weight: 2, arbitrary: run(maxRun) },
    fc.string({ maxLength: 30, unit: 'binary' }),
  );

/**
 * One of `samples` with up to eight edits, each cutting out a few characters at some place and putting a
 * piece there. Runs reach `maxRun` characters: long enough that quadratic work on them takes seconds.
 */
export const mutated = (samples: readonly string[], vocabulary: readonly string[], maxRun = 20_000): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom(...samples),
      fc.array(fc.record({ at: fc.nat(), remove: fc.nat({ max: 40 }), insert: piece(vocabulary, maxRun) }), { minLength: 1, maxLength: 8 }),
    )
    .map(([sample, edits]) =>
      edits.reduce((text, { at, remove, insert }) => {
        const index = at % (text.length + 1);
        return text.slice(0, index) + insert + text.slice(index + remove);
      }, sample),
    );

/** Words of SIP, and characters that mean something in it. */
const SIP_VOCABULARY = [
  'INVITE', 'REGISTER', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'SIP/2.0', 'SIP/3.0', 'sip:', 'sips:', 'tel:', '\r\n', '\n', '\r\n\r\n', '\r\n ', ': ',
  'Via: ', 'v: ', 'From: ', 'f: ', 'To: ', 't: ', 'Call-ID: ', 'i: ', 'CSeq: ', 'Contact: ', 'm: ', 'Content-Length: ', 'l: ', 'Authorization: Digest ',
  'Expires: 0', 'Require: 100rel', ';tag=', ';branch=z9hG4bK', ';expires=', ';rport', ';received=', 'SIP/2.0/WS ', '[::1]', ':5060', ':99999',
  '<sip:a@b>', '"', '\\', '%zz', '%2A', 'username="0000005"', 'realm="example.com"', 'nc=00000001', 'qop=auth', '*', '0', '4294967296', '-1',
  '\u0000', '\u00ff', 'Ž', '\ud800',
];

/** One WebSocket frame: a JsSIP message mutated, or any bytes. */
export const sipFrame: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: mutated(SIP_MESSAGES, SIP_VOCABULARY).map((text) => Buffer.from(text)) },
  fc.uint8Array({ maxLength: 500 }).map((bytes) => Buffer.from(bytes)),
);

/** Milliseconds one input may take: linear work on the largest input is a few milliseconds even on a loaded machine. */
export const MAX_INPUT_MS = 1000;

/** Runs `work` and fails if it took longer than MAX_INPUT_MS: a stall of the event loop is a failure even if it ends. */
export function quick<T>(what: string, work: () => T): T {
  const started = performance.now();
  try {
    return work();
  } finally {
    const took = performance.now() - started;
    if (took > MAX_INPUT_MS) throw new Error(`${what} took ${Math.round(took)} ms`);
  }
}
