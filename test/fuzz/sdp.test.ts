import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionDescription } from 'werift';
import { MAX_MEDIA_SECTIONS, MAX_SDP_BYTES, MAX_SDP_LINES, offerProblem, sameMediaSession } from '../../src/sip/sdp.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';
import { BROWSER_OFFER, mutated, quick } from './sipInputs.js';

/**
 * The SDP an INVITE carries: our bounds decide in linear time whether it may reach the media engine (413 or
 * 488 otherwise), and what passes them is parsed by werift, the media engine's parser, in linear time too,
 * throwing nothing but an Error (which the mixer answers with 488).
 */

const LINES = [
  'v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0', 'c=IN IP4 0.0.0.0', 'c=IN IP6 ::1', 'c=IN', 'a=group:BUNDLE 0 1 2 3 4 5 6 7 8 9', 'a=group:BUNDLE',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'm=video 9 UDP/TLS/RTP/SAVPF 96 97', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'm=audio 0 RTP/AVP 0', 'm=',
  'a=mid:0', 'a=mid:', 'a=ice-ufrag:u', 'a=ice-pwd:p', 'a=fingerprint:sha-256 00', 'a=fingerprint:', 'a=setup:actpass', 'a=setup:x', 'a=sendrecv',
  'a=rtpmap:111 opus/48000/2', 'a=rtpmap:96 VP8/90000', 'a=rtpmap:', 'a=rtpmap:96', 'a=fmtp:96 apt=97', 'a=fmtp:200 x', 'a=rtcp-fb:* nack', 'a=rtcp-fb:96',
  'a=rtcp:9 IN IP4 0.0.0.0', 'a=rtcp:', 'a=extmap:1/sendonly urn:x', 'a=extmap:', 'a=ssrc:1 cname:x', 'a=ssrc:', 'a=ssrc-group:FID 1 2', 'a=ssrc-group:',
  'a=candidate:1 1 udp 1 127.0.0.1 9 typ host', 'a=candidate:', 'a=candidate:1 1 udp x y z typ', 'a=sctp-port:5000', 'a=sctp-port:', 'a=sctpmap:',
  'a=max-message-size:x', 'a=rid:h send', 'a=msid:a b', 'a=ice-lite', 'a=end-of-candidates', '', ' ', 'x', '=', 'a=', 'v=1',
];

/** Lines from the grammar and anything, maybe the media sections of a browser offer many times over. */
const assembled = fc
  .tuple(
    fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...LINES) }, fc.string({ maxLength: 40 })), { maxLength: 60 }),
    fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.nat({ max: 600 })),
    fc.constantFrom('\r\n', '\n'),
  )
  .map(([lines, repeats, end]) => {
    const media = BROWSER_OFFER.slice(BROWSER_OFFER.indexOf('m=audio')).split('\r\n').filter(Boolean);
    return ['v=0', ...lines, ...Array.from({ length: repeats }, () => media).flat()].join(end);
  });

const sdp = fc.oneof(
  { weight: 3, arbitrary: mutated([BROWSER_OFFER], [...LINES.map((line) => `${line}\r\n`), '\r\n', ' ', ':', '/', '='], 40_000) },
  { weight: 2, arbitrary: assembled },
  fc.string({ maxLength: 300 }),
);

describe('fuzzing the SDP of an offer', () => {
  it('is refused in linear time beyond its bounds; within them werift parses it in linear time or throws an Error', async () => {
    await fuzz('sdp-offer', sdp, (offer) => {
      const problem = quick('the bounds', () => offerProblem(offer));
      expect(quick('a re-offer comparison', () => sameMediaSession(offer, offer))).toBe(true);
      if (problem) {
        expect([413, 488]).toContain(problem.status);
        return;
      }
      // What passes is what the bounds promise the media engine.
      const lines = offer.split(/\r?\n/).filter((line, index, all) => line !== '' || index < all.length - 1);
      expect(Buffer.byteLength(offer)).toBeLessThanOrEqual(MAX_SDP_BYTES);
      expect(lines.length).toBeLessThanOrEqual(MAX_SDP_LINES);
      expect(lines.filter((line) => line.startsWith('m=')).length).toBeLessThanOrEqual(MAX_MEDIA_SECTIONS);
      quick('werift parsing it', () => {
        try {
          SessionDescription.parse(offer);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
        }
      });
    });
  }, fuzzTimeoutMs());
});
