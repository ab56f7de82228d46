/**
 * SIP messages (RFC 3261 section 7): parsing one WebSocket frame into a request or a response, and
 * formatting the messages we send. A frame that is not a valid message throws SipParseError; when enough of
 * it could be read to address a reply, the error carries those fields so the caller can answer 400.
 */
import { randomBytes } from 'node:crypto';
import { reasonPhrase } from './reasonPhrases.js';
import {
  SipSyntaxError,
  formatVia,
  isToken,
  parseNameAddr,
  parseUri,
  parseVia,
  splitOutside,
  type NameAddr,
  type SipUri,
  type Via,
} from './headers.js';

export interface CSeq {
  seq: number;
  method: string;
}

export interface HeaderField {
  /** Canonical spelling for the headers we know (`Call-ID`, `Via`), as received otherwise. */
  name: string;
  value: string;
}

/** The headers of a message in their order; lookups ignore case and compact forms. */
export class Headers {
  constructor(readonly fields: readonly HeaderField[]) {}

  get(name: string): string | undefined {
    const wanted = canonicalName(name).toLowerCase();
    return this.fields.find((field) => field.name.toLowerCase() === wanted)?.value;
  }

  /** Every value of a header, comma-separated lists split into their elements. */
  all(name: string): string[] {
    const wanted = canonicalName(name).toLowerCase();
    const values: string[] = [];
    for (const field of this.fields) {
      if (field.name.toLowerCase() !== wanted) continue;
      if (LIST_HEADERS.has(wanted)) values.push(...splitOutside(field.value, ',').map((v) => v.trim()).filter((v) => v !== ''));
      else values.push(field.value);
    }
    return values;
  }

  count(name: string): number {
    const wanted = canonicalName(name).toLowerCase();
    return this.fields.filter((field) => field.name.toLowerCase() === wanted).length;
  }
}

/** The fields every request and response has, and all a reply needs. */
export interface SipMessageBase {
  headers: Headers;
  vias: Via[];
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
  body: string;
}

export interface SipRequest extends SipMessageBase {
  kind: 'request';
  method: string;
  uri: SipUri;
}

export interface SipResponse extends SipMessageBase {
  kind: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

export class SipParseError extends Error {
  override name = 'SipParseError';
  constructor(
    message: string,
    /** Set when the message was a request whose Via, From, To, Call-ID and CSeq could be read. */
    readonly replyTo?: SipMessageBase,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** RFC 3261 7.3.3 and the IANA registry: the one-letter forms browsers and phones send. */
const COMPACT_FORMS: Record<string, string> = {
  i: 'Call-ID', m: 'Contact', e: 'Content-Encoding', l: 'Content-Length', c: 'Content-Type', f: 'From',
  s: 'Subject', k: 'Supported', t: 'To', v: 'Via', o: 'Event', u: 'Allow-Events', r: 'Refer-To',
  b: 'Referred-By', x: 'Session-Expires', a: 'Accept-Contact', j: 'Reject-Contact', d: 'Request-Disposition',
  y: 'Identity', n: 'Identity-Info',
};

const CANONICAL_NAMES = new Map(
  [
    'Accept', 'Allow', 'Authorization', 'Call-ID', 'Contact', 'Content-Length', 'Content-Type', 'CSeq', 'Expires',
    'From', 'Max-Forwards', 'Min-Expires', 'Proxy-Authenticate', 'Proxy-Authorization', 'Reason', 'Record-Route',
    'Require', 'Route', 'Server', 'Supported', 'To', 'Unsupported', 'User-Agent', 'Via', 'WWW-Authenticate',
    ...Object.values(COMPACT_FORMS),
  ].map((name) => [name.toLowerCase(), name]),
);

/** Headers whose values may be combined into one comma-separated field (RFC 3261 7.3.1). */
const LIST_HEADERS = new Set(
  ['via', 'contact', 'route', 'record-route', 'path', 'allow', 'supported', 'require', 'proxy-require', 'unsupported',
    'accept', 'accept-encoding', 'accept-language', 'allow-events', 'content-encoding', 'reason', 'warning'],
);

export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT_FORMS[lower] ?? CANONICAL_NAMES.get(lower) ?? name;
}

/**
 * Bounds of one message. Browsers send a few kB (an INVITE with its SDP: about 5 kB, its longest header a
 * few hundred bytes); a message over a bound is answered 513 Message Too Large (414 for the Request-URI),
 * and what it carries is never stored.
 */
export const MAX_MESSAGE_BYTES = 65_536;
const MAX_HEADER_FIELDS = 100;
const MAX_HEADER_LINE_CHARS = 8192;
const REQUEST_LINE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/(\d+\.\d+)$/;
const STATUS_LINE = /^SIP\/(\d+\.\d+) ([1-6]\d\d)(?: (.*))?$/;
const HEADER_LINE = /^([A-Za-z0-9.!%*_+`'~-]+)[ \t]*:[ \t]*(.*)$/;
// Control characters other than HTAB have no place in a header (CR and LF were split on already).
const CONTROL = /[\x00-\x08\x0A-\x1F\x7F]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses one frame. Over WebSocket a frame is exactly one message (RFC 7118 section 5.3). */
export function parseMessage(frame: string | Buffer): SipMessage {
  const bytes = typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
  // RFC 3261 7.5: empty lines before the start line are keep-alive noise, not an error.
  let start = 0;
  while (bytes[start] === 0x0d || bytes[start] === 0x0a) start++;
  const { head, body } = splitHead(bytes.subarray(start));
  const lines = unfold(head.split(/\r?\n/));
  const startLine = lines.shift()?.value ?? '';
  const request = REQUEST_LINE.exec(startLine);
  const status = request ? undefined : STATUS_LINE.exec(startLine);
  if (!request && !status) throw new SipParseError(`not a SIP start line: "${startLine.slice(0, 80)}"`);

  // Problems found from here on are answerable once the fields a reply needs are read: the first one wins.
  let problem: { text: string; status: number } | undefined;
  const fail = (text: string, code = 400): void => {
    problem ??= { text, status: code };
  };
  if (bytes.length > MAX_MESSAGE_BYTES) fail(`message longer than ${MAX_MESSAGE_BYTES} bytes`, 513);
  const fields: HeaderField[] = [];
  for (const line of lines) {
    if (line.problem) fail(line.problem);
    // Too long to keep or to parse further: left out, so it reaches no header parser either.
    if (line.value.length > MAX_HEADER_LINE_CHARS) {
      fail(`header line longer than ${MAX_HEADER_LINE_CHARS} characters`, 513);
      continue;
    }
    const match = HEADER_LINE.exec(line.value);
    if (!match || CONTROL.test(line.value)) {
      fail(`malformed header line "${line.value.slice(0, 40)}"`);
      continue;
    }
    const field = { name: canonicalName(match[1] ?? ''), value: (match[2] ?? '').trim() };
    // A list that cannot be split (an unterminated quote) fails here, so Headers.all never throws.
    if (LIST_HEADERS.has(field.name.toLowerCase()) && !splits(field.value)) fail(`malformed ${field.name} list`);
    else fields.push(field);
  }
  if (fields.length > MAX_HEADER_FIELDS) fail(`more than ${MAX_HEADER_FIELDS} header fields`);
  const headers = new Headers(fields);
  const base = { ...readEssentials(headers), headers, body: body.toString('utf8') };

  const contentLength = headers.get('Content-Length');
  // Optional over WebSocket (the frame delimits the message), but when present it must be right.
  if (contentLength !== undefined && (!/^\d{1,9}$/.test(contentLength) || Number(contentLength) !== body.length)) {
    fail(`Content-Length ${contentLength.slice(0, 12)} does not match the ${body.length} bytes of body`);
  }
  if (status) {
    if (status[1] !== '2.0') fail(`SIP/${status[1]} is not supported`);
    if (problem) throw new SipParseError(problem.text);
    return { kind: 'response', status: Number(status[2]), reason: status[3] ?? '', ...base };
  }
  const [, method = '', uriText = '', version] = request ?? [];
  if (version !== '2.0') fail(`SIP/${version} is not supported`, 505);
  if (base.cseq.method !== method) fail(`CSeq method ${base.cseq.method} differs from the request's ${method}`);
  let uri: SipUri | undefined;
  try {
    if (uriText.length > MAX_HEADER_LINE_CHARS) fail(`Request-URI longer than ${MAX_HEADER_LINE_CHARS} characters`, 414);
    else uri = parseUri(uriText);
  } catch {
    fail(`unsupported Request-URI "${uriText.slice(0, 80)}"`, /^[a-z][a-z0-9+.-]*:/i.test(uriText) && !/^sips?:/i.test(uriText) ? 416 : 400);
  }
  if (problem || !uri) throw new SipParseError(problem?.text ?? 'bad Request-URI', base, problem?.status);
  return { kind: 'request', method, uri, ...base };
}

function splits(list: string): boolean {
  try {
    splitOutside(list, ',');
    return true;
  } catch (error) {
    if (error instanceof SipSyntaxError) return false;
    throw error;
  }
}

function splitHead(bytes: Buffer): { head: string; body: Buffer } {
  let end = bytes.indexOf('\r\n\r\n');
  let separator = 4;
  if (end < 0) {
    // Bare LF line ends are wrong but harmless; accept them as many stacks do.
    end = bytes.indexOf('\n\n');
    separator = 2;
  }
  if (end < 0) throw new SipParseError('no empty line after the headers');
  try {
    return { head: utf8.decode(bytes.subarray(0, end)), body: bytes.subarray(end + separator) };
  } catch {
    throw new SipParseError('headers are not UTF-8');
  }
}

/** Joins continuation lines (RFC 3261 7.3.1 header folding) to the line they continue. */
function unfold(lines: string[]): { value: string; problem?: string }[] {
  const out: { value: string; problem?: string }[] = [];
  for (const line of lines) {
    const previous = out[out.length - 1];
    if (/^[ \t]/.test(line)) {
      if (previous && out.length > 1) previous.value = `${previous.value} ${line.trim()}`;
      else out.push({ value: line, problem: 'continuation line without a header' });
    } else {
      out.push({ value: line });
    }
  }
  return out;
}

/** Via, From, To, Call-ID and CSeq: without them no reply can be addressed, so the frame is dropped. */
function readEssentials(headers: Headers): Omit<SipMessageBase, 'headers' | 'body'> {
  const single = (name: string): string => {
    const count = headers.count(name);
    if (count !== 1) throw new SipParseError(count === 0 ? `no ${name} header` : `${count} ${name} headers`);
    return headers.get(name) ?? '';
  };
  try {
    const vias = headers.all('Via').map(parseVia);
    if (vias.length === 0) throw new SipParseError('no Via header');
    const callId = single('Call-ID');
    if (!/^\S+$/.test(callId)) throw new SipParseError('bad Call-ID');
    return { vias, from: parseNameAddr(single('From')), to: parseNameAddr(single('To')), callId, cseq: parseCSeq(single('CSeq')) };
  } catch (error) {
    if (error instanceof SipSyntaxError) throw new SipParseError(error.message);
    throw error;
  }
}

function parseCSeq(text: string): CSeq {
  const match = /^(\d{1,10})\s+(\S+)$/.exec(text);
  const seq = Number(match?.[1]);
  // RFC 3261 8.1.1.5: less than 2**31.
  if (!match || seq >= 2 ** 31 || !isToken(match[2] ?? '')) throw new SipParseError(`bad CSeq "${text.slice(0, 40)}"`);
  return { seq, method: match[2] ?? '' };
}

export function tagOf(address: NameAddr): string | undefined {
  return address.params.get('tag') ?? undefined;
}

/** The media type of the body, lower-cased and without parameters, or undefined when there is none. */
export function contentType(message: SipMessageBase): string | undefined {
  return message.headers.get('Content-Type')?.split(';')[0]?.trim().toLowerCase();
}

export type HeaderList = readonly (readonly [name: string, value: string])[];

/** Headers in the given order, then Content-Type (with a body) and Content-Length. */
function formatMessage(startLine: string, headers: HeaderList, body: string, type: string | undefined): string {
  let text = `${startLine}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  if (body !== '' && type) text += `Content-Type: ${type}\r\n`;
  return `${text}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export function formatRequest(method: string, uri: string, headers: HeaderList): string {
  return formatMessage(`${method} ${uri} SIP/2.0`, headers, '', undefined);
}

export interface ReplyOptions {
  reason?: string;
  /** Added to To when the request had none (RFC 3261 8.2.6.2); never on 100 Trying. */
  toTag?: string;
  headers?: HeaderList;
  body?: string;
  contentType?: string;
}

/** A response to `request`: its Via (as our transport amended it), From, To, Call-ID and CSeq, copied. */
export function formatReply(request: SipMessageBase, status: number, options: ReplyOptions = {}): string {
  const to = request.headers.get('To') ?? '';
  const addTag = status > 100 && options.toTag !== undefined && tagOf(request.to) === undefined;
  const headers: HeaderList = [
    ...request.vias.map((via) => ['Via', formatVia(via)] as const),
    ['From', request.headers.get('From') ?? ''],
    ['To', addTag ? `${to};tag=${options.toTag}` : to],
    ['Call-ID', request.callId],
    ['CSeq', `${request.cseq.seq} ${request.cseq.method}`],
    ...(options.headers ?? []),
  ];
  const reason = options.reason ?? reasonPhrase(status);
  return formatMessage(`SIP/2.0 ${status} ${reason}`, headers, options.body ?? '', options.contentType);
}

/** A dialog or transaction tag: random, so a guessed one does not reach someone else's call. */
export function newTag(): string {
  return randomBytes(8).toString('hex');
}

/** RFC 3261 8.1.1.7: branches start with the magic cookie. */
export function newBranch(): string {
  return `z9hG4bK${randomBytes(10).toString('hex')}`;
}
