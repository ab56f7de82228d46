/**
 * The grammar of SIP header values (RFC 3261 section 25) that a UAS needs: SIP URIs, name-addr with
 * parameters, Via, comma-separated lists and digest auth parameters. Parsers throw SipSyntaxError; the
 * message parser turns it into a 400 for the one message that carried it.
 */

export class SipSyntaxError extends Error {
  override name = 'SipSyntaxError';
}

/** Header or URI parameters by lower-cased name; a value is kept as written (quotes included), null when absent. */
export type Params = Map<string, string | null>;

export interface SipUri {
  scheme: 'sip' | 'sips';
  /** Percent-decoded. */
  user: string | undefined;
  host: string;
  port: number | undefined;
  params: Params;
  /** The URI as received: digest `uri=` is compared with it. */
  raw: string;
}

export interface NameAddr {
  display: string | undefined;
  uri: SipUri;
  /** Header parameters (`tag`, `expires`, `+sip.instance`…), not the URI's. */
  params: Params;
}

export interface Via {
  /** `WS`, `WSS`, `UDP`…, upper-cased. */
  transport: string;
  host: string;
  port: number | undefined;
  params: Params;
}

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?|\[[0-9A-Fa-f:.]+\])$/;

export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

/**
 * Splits `text` at every `separator` that is outside a quoted string and outside `<…>`, so a comma in a
 * display name or a semicolon in a URI does not cut a value in two.
 */
export function splitOutside(text: string, separator: ',' | ';'): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '\\') i++;
      else if (char === '"') quoted = false;
    } else if (char === '"') quoted = true;
    else if (char === '<') angle = true;
    else if (char === '>') angle = false;
    else if (char === separator && !angle) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) throw new SipSyntaxError('unterminated quoted string');
  parts.push(text.slice(start));
  return parts;
}

/** `;a=1;b;c="x"` → a map; the leading `;` is optional. */
export function parseParams(text: string): Params {
  const params: Params = new Map();
  const trimmed = text.trim();
  if (trimmed === '') return params;
  for (const part of splitOutside(trimmed.startsWith(';') ? trimmed.slice(1) : trimmed, ';')) {
    const equals = part.indexOf('=');
    const name = (equals < 0 ? part : part.slice(0, equals)).trim().toLowerCase();
    if (!isToken(name)) throw new SipSyntaxError(`bad parameter "${part.trim()}"`);
    params.set(name, equals < 0 ? null : part.slice(equals + 1).trim());
  }
  return params;
}

export function formatParams(params: Params): string {
  let text = '';
  for (const [name, value] of params) text += value === null ? `;${name}` : `;${name}=${value}`;
  return text;
}

export function unquote(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length < 2 || !trimmed.startsWith('"') || !trimmed.endsWith('"')) return trimmed;
  return trimmed.slice(1, -1).replace(/\\(.)/g, '$1');
}

export function quote(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/** `host`, `host:port` or `[v6]:port`. */
function parseHostPort(text: string): { host: string; port: number | undefined } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(text.trim());
  const host = match?.[1] ?? '';
  const port = match?.[2] === undefined ? undefined : Number(match[2]);
  if (!HOST.test(host) || (port !== undefined && port > 65_535)) throw new SipSyntaxError(`bad host "${text.trim()}"`);
  return { host, port };
}

export function parseUri(text: string): SipUri {
  const raw = text.trim();
  const match = /^(sips?):(?:([^@;?]*)@)?([^;?]+)((?:;[^?]*)?)(?:\?.*)?$/i.exec(raw);
  if (!match) throw new SipSyntaxError(`not a SIP URI: "${raw}"`);
  const [, scheme = '', userInfo, hostPort = '', params = ''] = match;
  let user: string | undefined;
  if (userInfo !== undefined) {
    // A password after the user (`user:pw@`) is deprecated (RFC 3261 19.1.1) and ignored.
    const encoded = userInfo.split(':')[0] ?? '';
    try {
      user = decodeURIComponent(encoded);
    } catch {
      throw new SipSyntaxError(`bad escape in URI user "${encoded}"`);
    }
  }
  return { scheme: scheme.toLowerCase() as 'sip' | 'sips', user, ...parseHostPort(hostPort), params: parseParams(params), raw };
}

/** URI parameters that, present in one URI only, make two URIs differ (RFC 3261 19.1.4). */
const DEFAULTED_URI_PARAMS = new Set(['user', 'ttl', 'method', 'maddr', 'transport']);

/**
 * RFC 3261 19.1.4: whether two SIP URIs are equivalent. The user compares exactly, the host and parameter
 * values case-insensitively; a parameter in one URI only is ignored unless it is one of those above, so
 * JsSIP's INVITE Contact (with `;ob`) is the Contact it registers (without).
 */
export function sameUri(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme || a.user !== b.user || a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  for (const name of new Set([...a.params.keys(), ...b.params.keys()])) {
    const left = a.params.get(name);
    const right = b.params.get(name);
    if (left === undefined || right === undefined) {
      if (DEFAULTED_URI_PARAMS.has(name)) return false;
    } else if (left?.toLowerCase() !== right?.toLowerCase()) {
      return false;
    }
  }
  return true;
}

export function parseNameAddr(text: string): NameAddr {
  const trimmed = text.trim();
  const open = indexOutsideQuotes(trimmed, '<');
  if (open < 0) {
    // addr-spec: parameters after the URI belong to the header (RFC 3261 20.10), so the URI has none.
    const [uri = '', ...params] = splitOutside(trimmed, ';');
    return { display: undefined, uri: parseUri(uri), params: parseParams(params.join(';')) };
  }
  const close = trimmed.indexOf('>', open);
  if (close < 0) throw new SipSyntaxError('missing ">"');
  const display = unquote(trimmed.slice(0, open)) || undefined;
  return { display, uri: parseUri(trimmed.slice(open + 1, close)), params: parseParams(trimmed.slice(close + 1)) };
}

export function formatNameAddr(address: NameAddr): string {
  const display = address.display === undefined ? '' : `${quote(address.display)} `;
  return `${display}<${address.uri.raw}>${formatParams(address.params)}`;
}

function indexOutsideQuotes(text: string, char: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    if (quoted && text[i] === '\\') i++;
    else if (text[i] === '"') quoted = !quoted;
    else if (!quoted && text[i] === char) return i;
  }
  return -1;
}

export function parseVia(text: string): Via {
  // The parameters are cut off first: a lazy sent-by followed by optional spaces backtracks quadratically.
  const trimmed = text.trim();
  const semicolon = trimmed.indexOf(';');
  const head = semicolon < 0 ? trimmed : trimmed.slice(0, semicolon);
  const match = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9.!%*_+`'~-]+)\s+(\S.*)$/i.exec(head);
  if (!match) throw new SipSyntaxError(`bad Via "${trimmed.slice(0, 80)}"`);
  const [, transport = '', sentBy = ''] = match;
  return { transport: transport.toUpperCase(), ...parseHostPort(sentBy), params: parseParams(semicolon < 0 ? '' : trimmed.slice(semicolon)) };
}

export function formatVia(via: Via): string {
  return `SIP/2.0/${via.transport} ${via.host}${via.port === undefined ? '' : `:${via.port}`}${formatParams(via.params)}`;
}

/** `Digest a="1", b=2` → the scheme and the parameters (unquoted, names lower-cased). */
export function parseAuthParams(text: string): { scheme: string; params: Map<string, string> } {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  if (space < 0) throw new SipSyntaxError('no auth parameters');
  const params = new Map<string, string>();
  for (const part of splitOutside(trimmed.slice(space + 1), ',')) {
    const equals = part.indexOf('=');
    const name = part.slice(0, equals).trim().toLowerCase();
    if (equals < 0 || !isToken(name)) throw new SipSyntaxError(`bad auth parameter "${part.trim()}"`);
    params.set(name, unquote(part.slice(equals + 1)));
  }
  return { scheme: trimmed.slice(0, space), params };
}
