/**
 * Just enough SDP for the signalling: whether an offer is within the bounds the media engine is given, and,
 * to answer a re-INVITE or UPDATE without the mixer, whether a new offer asks for the same media session as
 * the one already answered.
 */

/**
 * A browser offers audio and video (perhaps a data channel, a screen share) in 5 to 10 kB and under 300
 * lines, most of them codecs; each m-line costs the media engine a transceiver, so an offer with hundreds is
 * refused before it gets there.
 */
export const MAX_SDP_BYTES = 32_768;
export const MAX_SDP_LINES = 1000;
export const MAX_MEDIA_SECTIONS = 8;

/** Why an offer is refused: 413 when it is too large, 488 when it is not a session we serve. */
export interface OfferProblem {
  status: 413 | 488;
  reason: string;
}

/** RFC 8866 5: `v=0` first, then `<type>=<value>` lines, the type one lower-case letter. */
const SDP_LINE = /^[a-z]=/;

/** What makes `sdp` unfit to hand to the media engine, or undefined. */
export function offerProblem(sdp: string): OfferProblem | undefined {
  if (Buffer.byteLength(sdp) > MAX_SDP_BYTES) return { status: 413, reason: `SDP larger than ${MAX_SDP_BYTES} bytes` };
  const lines = sdp.split(/\r?\n/);
  // The last line ends with CRLF: one empty string after it.
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length > MAX_SDP_LINES) return { status: 413, reason: `SDP of more than ${MAX_SDP_LINES} lines` };
  if (lines[0] !== 'v=0' || !lines.every((line) => SDP_LINE.test(line))) return { status: 488, reason: 'Not an SDP session description' };
  const media = lines.filter((line) => line.startsWith('m=')).length;
  if (media > MAX_MEDIA_SECTIONS) return { status: 488, reason: `More than ${MAX_MEDIA_SECTIONS} media sections` };
  return undefined;
}

/**
 * The lines that decide what the answer must say: the m-lines (their ports only as "in use" or 0 =
 * rejected), mids, ICE credentials, DTLS fingerprints, codecs and directions. Left out on purpose: `o=`
 * (browsers bump its version on every offer), candidates, SSRCs, msids and bandwidth lines, none of which
 * make our answer wrong.
 */
const SIGNIFICANT = /^(?:m=|a=(?:mid|ice-ufrag|ice-pwd|fingerprint|rtpmap|fmtp|sendrecv|sendonly|recvonly|inactive)\b)/;

function significantLines(sdp: string): string[] {
  return sdp
    .split(/\r?\n/)
    .filter((line) => SIGNIFICANT.test(line))
    .map((line) => line.replace(/^(m=\S+) (\d+)/, (_match, media: string, port: string) => `${media} ${port === '0' ? '0' : 'in-use'}`));
}

/** True when an answer to `previous` is still a valid answer to `next` (RFC 3264 section 8: nothing changed). */
export function sameMediaSession(previous: string, next: string): boolean {
  const a = significantLines(previous);
  const b = significantLines(next);
  return a.length === b.length && a.every((line, index) => line === b[index]);
}
