/**
 * Just enough SDP to answer a re-INVITE or UPDATE without the mixer: whether a new offer asks for the same
 * media session as the one already answered.
 */

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
