/** What a test reads from a call's SDP: where the server's media listens (in its answer), and the ICE ufrags. */
import { expect } from 'vitest';

/** The server's UDP ports in an answer's host candidates. */
export function mediaPorts(sdp: string): number[] {
  const ports = [...sdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host/gim)].map((match) => Number(match[1]));
  expect(ports.length, 'host candidates in the answer').toBeGreaterThan(0);
  return [...new Set(ports)];
}

/** An SDP's ICE ufrag (its first a=ice-ufrag line). */
export function iceUfrag(sdp: string): string {
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
  expect(ufrag, 'a=ice-ufrag').toBeDefined();
  return ufrag!;
}
