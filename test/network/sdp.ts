import { randomUUID } from 'node:crypto';

/** The connection addresses of an SDP's candidates (a=candidate: foundation component transport priority ADDRESS port typ …). */
export function candidateAddresses(sdp: string): string[] {
  return [...sdp.matchAll(/^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ /gm)].map((match) => match[1]!);
}

/**
 * An offer as a browser with default privacy settings sends it: its host candidates under random mDNS names,
 * the c= lines at 0.0.0.0, and the end of candidates said (as Firefox does).
 */
export function onlyMdnsCandidates(sdp: string): string {
  const names = new Map<string, string>();
  const hidden = sdp
    .replace(/^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)/gm, (_, head: string, address: string, tail: string) => {
      if (!names.has(address)) names.set(address, `${randomUUID()}.local`);
      return `${head}${names.get(address)}${tail}`;
    })
    .replace(/^c=IN IP(4|6) \S+/gm, 'c=IN IP4 0.0.0.0');
  return hidden.includes('a=end-of-candidates') ? hidden : hidden.replace(/((?:^a=candidate:.*\r?\n)+)/gm, '$1a=end-of-candidates\r\n');
}
