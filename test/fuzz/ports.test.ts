import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import fc from 'fast-check';
import type { Connection } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fromAddress } from '../cometql/fromAddress.js';
import { cometClient } from '../gateway/cometClient.js';
import { connect } from '../helpers/server.js';
import { inviteWithCredentials, RawSipClient, sipRequest, token } from '../sip/rawClient.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';
import { ROOM, useLiveServer } from './liveServer.js';

/**
 * Hostile input on every port of a live server, as anyone on the network could send it: raw bytes and
 * MySQL packets on CometQL (before and after a login), HTTP requests, and WebSocket frames on the comet
 * gateway and on SIP (down to an authenticated INVITE whose SDP is mangled). After each input nothing
 * escaped and the ports answer; after each target a bystander is served and the live call flows.
 */

/** How long an input that gets no answer keeps its connection (a server waits for the rest of a request). */
const PATIENCE_MS = 300;
/** An answer is over once the server has been quiet this long after it. */
const QUIET_MS = 30;

const bytes = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength });
/** Text from these pieces (some repeated many times over, as super-linear work needs), random strings and numbers, joined by spaces. */
const textOf = (pieces: string[], maxLength = 20): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...pieces) },
        fc.tuple(fc.constantFrom(...pieces), fc.integer({ min: 2, max: 30 })).map(([piece, times]) => piece.repeat(times)),
        fc.string({ maxLength: 12 }),
        fc.integer().map(String),
      ),
      { maxLength },
    )
    .map((parts) => parts.join(' '));

/** Resolves when the WebSocket closes or `ms` have passed. */
const closedOrAfter = (ws: WebSocket, ms = PATIENCE_MS): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Resolves when the socket closes, once the server answered and then went quiet, or after `ms`. */
const answeredOrAfter = (socket: Socket, ms = PATIENCE_MS): Promise<void> =>
  new Promise((resolve) => {
    let quiet: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(quiet);
      clearTimeout(limit);
      socket.off('data', answering);
      resolve();
    };
    const answering = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(done, QUIET_MS);
    };
    const limit = setTimeout(done, ms);
    socket.on('data', answering);
    socket.once('close', done);
  });

/**
 * Where hostile connections come from: not the bystanders' 127.0.0.1, as an attacker is elsewhere (the
 * server throttles logins per address, and must only ever lock out the guesser).
 */
const STRANGER = '127.0.0.2';
/** The hostile client that logs in (it must not be locked out by the stranger's garbage either). */
const TENANT_ADDRESS = '127.0.0.3';
/** The dev_id it logs in as: another tenant than the live call's, so what its queries do is theirs alone. */
const TENANT = '7';

async function openSocket(port: number): Promise<Socket> {
  const socket = tcpConnect({ port, host: '127.0.0.1', localAddress: STRANGER });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Writes the bytes on a fresh connection (after the server's greeting, if it has one) and waits for its answer. */
async function sendRaw(port: number, data: Uint8Array, greeting = false): Promise<void> {
  const socket = await openSocket(port);
  if (greeting) await answeredOrAfter(socket);
  socket.end(data);
  await answeredOrAfter(socket);
  socket.destroy();
}

/** Sends the frames and waits until the server has read them (a ping's pong) or closed the socket. */
async function sendFrames(ws: WebSocket, frames: (string | Uint8Array)[]): Promise<void> {
  const closed = closedOrAfter(ws);
  for (const frame of frames) if (ws.readyState === WebSocket.OPEN) ws.send(frame);
  if (ws.readyState === WebSocket.OPEN) ws.ping();
  await Promise.race([once(ws, 'pong'), closed]);
  ws.terminate();
}

// ---------------------------------------------------------------------------------------------- CometQL

const COMMANDS = { quit: 0x01, initDb: 0x02, query: 0x03, fieldList: 0x04, statistics: 0x09, ping: 0x0e, changeUser: 0x11, prepare: 0x16, execute: 0x17, close: 0x19, reset: 0x1a, setOption: 0x1b, fetch: 0x1c, resetConnection: 0x1f };

const SQL_PIECES = [
  'SELECT', 'INSERT', 'INTO', 'REPLACE', 'DELETE', 'UPDATE', 'SET', 'SHOW', 'DESCRIBE', 'USE', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'LIKE', 'LIMIT',
  'ORDER BY', 'VALUES', '(', ')', ',', '=', '!=', '<>', '*', ';', "'", '"', '`', '\\', '/*', '*/', '--', '#', '\n', '?', '@@version', 'NULL', '0x41', '-1',
  '1e999', 'users_auth', 'users_data', 'users_time', 'users_messages', 'users_in_pipes', 'pipes', 'pipes_messages', 'pipes_settings', 'conference',
  'conference_members', 'conference_broadcast', 'tenants', 'id', 'hash', 'name', 'user_id', 'event', 'message', 'profile', 'caller_id', 'TABLES',
  'DATABASES', 'STATUS', 'PROCESSLIST', 'VARIABLES', 'NAMES', 'utf8mb4', 'CometQL_v1', 'web_fuzz', 'UNION', '%', '_', '%_', "'%",
];

const TABLES = ['users_auth', 'users_data', 'users_time', 'users_messages', 'users_in_pipes', 'pipes', 'pipes_messages', 'pipes_settings', 'conference',
  'conference_members', 'conference_broadcast', 'tenants', 'nowhere', 'db_0.conference'];
const COLUMNS = ['id', 'hash', 'name', 'user_id', 'caller_id', 'message', 'profile', 'event', 'time', 'index', 'audio', 'video', 'layout', 'length', 'password', '*', 'x'];

/**
 * A string literal: from pieces that make matching and escaping work hard (runs of wildcards, then what no
 * name holds; quotes, backslashes), or anything.
 */
const STRING_PIECES = ['%', '_', '%_%', 'a', 'Q', '~', "\\'", "''", '\\', 'web_'];
const sqlString = fc
  .oneof(
    fc
      .array(fc.oneof(fc.constantFrom(...STRING_PIECES), fc.tuple(fc.constantFrom(...STRING_PIECES), fc.integer({ min: 2, max: 20 })).map(([piece, times]) => piece.repeat(times))), { maxLength: 6 })
      .map((parts) => parts.join('')),
    fc.string({ maxLength: 30 }),
  )
  .map((text) => `'${text.replaceAll("'", "''")}'`);
const sqlValue = fc.oneof(fc.integer().map(String), fc.constantFrom('NULL', '-0', '1e999', '0x41', '18446744073709551616'), sqlString);
/** A value list: a few values, or a long run of numbers (bounds). */
const sqlValues = fc.oneof(
  { weight: 4, arbitrary: fc.array(sqlValue, { minLength: 1, maxLength: 8 }).map((values) => values.join(', ')) },
  fc.integer({ min: 1, max: 20_000 }).map((count) => Array.from({ length: count }, (_, i) => i).join(',')),
);

/** Statements the dialect knows, with hostile tables, columns and values: they reach the executor, not only the parser. */
const sqlStatement = fc.oneof(
  fc.tuple(fc.constantFrom('SHOW TABLES', 'SHOW DATABASES', 'SHOW STATUS', 'SHOW VARIABLES', 'SHOW PROCESSLIST', 'SHOW COLUMNS FROM users_auth'), fc.option(sqlString)).map(([show, like]) => (like === null ? show : `${show} LIKE ${like}`)),
  fc.tuple(fc.constantFrom(...COLUMNS), fc.constantFrom(...TABLES), fc.constantFrom(...COLUMNS), fc.constantFrom('=', 'IN', 'LIKE', '>', 'NOT IN'), sqlValues).map(([select, table, column, op, values]) => `SELECT ${select} FROM ${table} WHERE ${column} ${op} (${values})`),
  fc.tuple(fc.constantFrom('INSERT', 'REPLACE'), fc.constantFrom(...TABLES), fc.array(fc.constantFrom(...COLUMNS), { minLength: 1, maxLength: 4 }), fc.array(sqlValues, { minLength: 1, maxLength: 3 })).map(([verb, table, columns, rows]) => `${verb} INTO ${table} (${columns.join(', ')}) VALUES ${rows.map((row) => `(${row})`).join(', ')}`),
  fc.tuple(fc.constantFrom('DELETE FROM', 'UPDATE'), fc.constantFrom(...TABLES), fc.constantFrom(...COLUMNS), sqlValues).map(([verb, table, column, values]) => `${verb} ${table}${verb === 'UPDATE' ? ` SET ${column} = 1` : ''} WHERE ${column} IN (${values})`),
  fc.tuple(fc.constantFrom('USE', 'SET NAMES', 'SET', 'DESCRIBE', 'SELECT'), sqlValue).map(([verb, value]) => `${verb} ${value}`),
);

/** One MySQL packet: a command byte and a body of SQL or SQL-ish text or bytes, its length header right or wrong. */
const mysqlPacket = fc
  .record({
    command: fc.oneof({ weight: 4, arbitrary: fc.constant(COMMANDS.query) }, fc.constantFrom(...Object.values(COMMANDS)), fc.nat({ max: 255 })),
    body: fc.oneof(
      { weight: 3, arbitrary: fc.oneof(sqlStatement, textOf(SQL_PIECES, 30)).map((sql) => Buffer.from(sql)) },
      bytes(300).map((b) => Buffer.from(b)),
    ),
    sequence: fc.oneof(fc.constant(0), fc.nat({ max: 255 })),
    lengthError: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.integer({ min: -5, max: 5 })),
  })
  .map(({ command, body, sequence, lengthError }) => {
    const payload = Buffer.concat([Buffer.from([command]), body]);
    const header = Buffer.alloc(4);
    header.writeUIntLE(Math.max(0, payload.length + lengthError), 0, 3);
    header[3] = sequence;
    return new Uint8Array(Buffer.concat([header, payload]));
  });

type CometqlInput = { loggedIn: false; data: Uint8Array } | { loggedIn: true; packets: Uint8Array[] };

const cometqlInput: fc.Arbitrary<CometqlInput> = fc.oneof(
  // Before a login: bytes, or packets where the handshake response belongs.
  fc.oneof(bytes(600), fc.array(mysqlPacket, { minLength: 1, maxLength: 3 }).map((packets) => new Uint8Array(Buffer.concat(packets)))).map((data) => ({ loggedIn: false as const, data })),
  { weight: 3, arbitrary: fc.array(mysqlPacket, { minLength: 1, maxLength: 4 }).map((packets) => ({ loggedIn: true as const, packets })) },
);

// ------------------------------------------------------------------------------------------------- HTTP

const PATH_PIECES = ['info', 'metrics', 'ws', 'sip', 'hls', '0', ROOM, 'index.m3u8', 'index.mpd', 'll.m3u8', 'init.mp4', 'examples', 'index.html', 'cometVideoApi.js',
  'CometServerApi.js', 'hls.js', 'comet-server', '..', '.', '', '%2e%2e', '%2f', '%', '%zz', '%00', '%ff', '~', 'sesion=k&myid=1&devid=0'];
const QUERY_NAMES = ['_HLS_msn', '_HLS_part', '_HLS_skip', 'token', 'sesion', 'myid', 'devid', 'uuid', 'api', 'v'];

const path = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PATH_PIECES) }, fc.string({ maxLength: 10 })), { maxLength: 6 }), fc.option(fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), fc.oneof(fc.integer().map(String), fc.string({ maxLength: 10 }))), { maxLength: 4 })))
  .map(([segments, query]) => `/${segments.join('/')}${query ? `?${query.map(([name, value]) => `${name}=${value}`).join('&')}` : ''}`);

/** A request target in origin form, absolute form (with hosts and ports a URL parser may refuse), or neither. */
const requestTarget = fc.oneof(
  { weight: 4, arbitrary: path },
  fc
    .tuple(fc.constantFrom('http', 'https', 'ws', 'x', ''), fc.constantFrom('x', '[', '[::1]', '127.0.0.1', '', 'a b', '%'), fc.option(fc.oneof(fc.integer({ min: 0, max: 200_000 }).map(String), fc.string({ maxLength: 6 }))), path)
    .map(([scheme, host, port, rest]) => `${scheme}://${host}${port === null ? '' : `:${port}`}${rest}`),
  path.map((rest) => `/${rest}`),
  fc.constantFrom('*', ''),
  fc.string({ maxLength: 40 }),
);

const WEBSOCKET_HEADERS = ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}`, 'Sec-WebSocket-Version: 13'];
const HEADER_NAMES = ['Host', 'Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Sec-WebSocket-Protocol', 'Content-Length', 'Transfer-Encoding',
  'Range', 'If-None-Match', 'If-Modified-Since', 'Accept-Encoding', 'User-Agent', 'Cookie', 'Authorization', 'Origin', 'X-Forwarded-For', 'Expect'];
const HEADER_VALUES = ['websocket', 'Upgrade', 'sip', '13', 'chunked', 'bytes=0-1', 'bytes=-5', 'bytes=99999999999999999999-', 'gzip', 'Bearer x', '100-continue', '-1', '0', '18446744073709551616'];

const httpRequest = fc
  .record({
    method: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('GET', 'HEAD') }, fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'PRI'), fc.string({ maxLength: 8 })),
    target: requestTarget,
    version: fc.oneof({ weight: 4, arbitrary: fc.constant('HTTP/1.1') }, fc.constantFrom('HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0', ''), fc.string({ maxLength: 10 })),
    upgrade: fc.constantFrom(null, 'plain', 'sip'),
    headers: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.string({ maxLength: 10 })), fc.oneof(fc.constantFrom(...HEADER_VALUES), fc.string({ maxLength: 30 }))), { maxLength: 5 }),
    newline: fc.constantFrom('\r\n', '\r\n', '\n'),
    body: bytes(200),
  })
  .map(({ method, target, version, upgrade, headers, newline, body }) => {
    const lines = [
      `${method} ${target} ${version}`,
      'Host: 127.0.0.1',
      ...(upgrade ? WEBSOCKET_HEADERS : []),
      ...(upgrade === 'sip' ? ['Sec-WebSocket-Protocol: sip'] : []),
      ...headers.map(([name, value]) => `${name}: ${value}`),
    ];
    return new Uint8Array(Buffer.concat([Buffer.from(`${lines.join(newline)}${newline}${newline}`), body]));
  });

// ----------------------------------------------------------------------------------------- WebSocket frames

/** Frames as a client writes them (RFC 6455 5.2): any opcode, masked or not, lengths that lie. */
const webSocketFrame = fc
  .record({
    fin: fc.boolean(),
    rsv: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.nat({ max: 7 })),
    opcode: fc.oneof(fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa), fc.nat({ max: 15 })),
    masked: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
    mask: bytes(4),
    length: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, fc.constantFrom(125, 126, 127, 0xffff, 2 ** 32, 2 ** 53 - 1)),
    payload: bytes(200),
  })
  .map(({ fin, rsv, opcode, masked, mask, length, payload }) => {
    const announced = length ?? payload.length;
    const header = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
    let extended = Buffer.alloc(0);
    if (announced < 126) header.push((masked ? 0x80 : 0) | announced);
    else if (announced <= 0xffff) {
      header.push((masked ? 0x80 : 0) | 126);
      extended = Buffer.alloc(2);
      extended.writeUInt16BE(announced);
    } else {
      header.push((masked ? 0x80 : 0) | 127);
      extended = Buffer.alloc(8);
      extended.writeBigUInt64BE(BigInt(announced));
    }
    const key = Buffer.concat([Buffer.from(mask), Buffer.alloc(4)]).subarray(0, 4);
    const body = masked ? Buffer.from(payload.map((byte, i) => byte ^ key[i % 4]!)) : Buffer.from(payload);
    return new Uint8Array(Buffer.concat([Buffer.from(header), extended, masked ? key : Buffer.alloc(0), body]));
  });

const rawFrames = fc.array(webSocketFrame, { minLength: 1, maxLength: 4 });

/** Upgrades a raw socket to a WebSocket on `path` by hand, then writes the frames as they are. */
async function sendRawFrames(port: number, path: string, protocol: string | null, frames: Uint8Array[]): Promise<void> {
  const socket = await openSocket(port);
  let head = '';
  const collect = (chunk: Buffer): void => void (head += chunk.toString('latin1'));
  socket.on('data', collect);
  const protocolHeader = protocol ? [`Sec-WebSocket-Protocol: ${protocol}`] : [];
  socket.write([`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...WEBSOCKET_HEADERS, ...protocolHeader, '', ''].join('\r\n'));
  await answeredOrAfter(socket);
  socket.off('data', collect);
  if (head.startsWith('HTTP/1.1 101')) {
    socket.end(Buffer.concat(frames));
    await answeredOrAfter(socket);
  }
  socket.destroy();
}

// ------------------------------------------------------------------------------------------ comet gateway

const COMET_PIECES = ['subscription', 'web_pipe2', 'pipe_log', 'pipe_count', 'track_pipe_users', 'user_data', 'user_status', 'statistics', 'cgi_call', 'CometQL_call',
  'web_fuzz', '@web_fuzz', 'webauth_fuzz', 'track_fuzz', 'private_fuzz', 'sys', 'msg', 'event', '0', '1', '*', '\n', '\n\n', ''];

/** A command frame `<command>\n<arguments>`: known commands with fields from the pieces, or anything. */
const cometCommand = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...COMET_PIECES.slice(0, 10)), fc.array(textOf(COMET_PIECES, 4), { maxLength: 5 })).map(([name, fields]) => [name, ...fields].join('\n')) },
  fc.string({ maxLength: 300 }),
  fc.string({ maxLength: 8 }).map((unit) => unit.repeat(2000)),
);

type WebSocketInput = { frames: (string | Uint8Array)[] } | { raw: Uint8Array[] };

const cometInput: fc.Arbitrary<WebSocketInput> = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.oneof({ weight: 4, arbitrary: cometCommand }, bytes(200)), { minLength: 1, maxLength: 5 }).map((frames) => ({ frames })) },
  rawFrames.map((raw) => ({ raw })),
);

// --------------------------------------------------------------------------------------------------- SIP

/** The user the SIP target logs in as, with its key; it dials rooms of the open grid profile. */
const SIP_USER_ID = 5;
const SIP_USER = `000000${SIP_USER_ID}`;
const SIP_KEY = 'fuzzSipKey0123456789';
const CONTACT = 'Contact: <sip:xyz@abcdef.invalid;transport=ws;ob>';
const DESTINATIONS = [`0*${ROOM}*grid`, '0*elsewhere*grid', '0*nowhere*nothing', '7*x*grid'];

const SIP_METHODS = ['INVITE', 'REGISTER', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'MESSAGE', 'INFO', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'PRACK', 'REFER', 'PUBLISH'];
const SIP_HEADERS = ['Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Contact', 'm', 'Content-Length', 'l', 'Content-Type', 'c', 'Max-Forwards', 'Expires',
  'Authorization', 'Proxy-Authorization', 'Route', 'Record-Route', 'Supported', 'Require', 'Event', 'Reason', 'Session-Expires'];
const SIP_VALUES = [
  `Digest username="${SIP_USER}", realm="127.0.0.1", nonce="x", uri="sip:localhost", response="0", qop=auth, nc=00000001, cnonce="a"`,
  '<sip:xyz@abcdef.invalid;transport=ws>;expires=600', 'application/sdp', 'SIP/2.0/WSS x.invalid;branch=z9hG4bK1', '1 INVITE', '*', '-1', '0', '4294967296', '',
];

/** A SIP message: a request as JsSIP writes it with fields and headers from the pieces, maybe cut or with bare LFs; or anything. */
const sipMessage = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        method: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...SIP_METHODS) }, fc.string({ maxLength: 8 })),
        uri: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('sip:localhost', ...DESTINATIONS.map((d) => `sip:${d}@localhost`), 'sip:', 'tel:+1') }, fc.string({ maxLength: 20 })),
        cseq: fc.oneof(fc.constant(1), fc.integer()),
        fromUser: fc.oneof(fc.constant(SIP_USER), fc.string({ maxLength: 10 })),
        headers: fc.array(fc.tuple(fc.constantFrom(...SIP_HEADERS), fc.oneof(fc.constantFrom(...SIP_VALUES), fc.string({ maxLength: 40 }))), { maxLength: 4 }),
        body: fc.oneof(fc.constant(''), textOf(['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=ice-ufrag:x', 'c=IN IP4 0.0.0.0', '\r\n'], 10), fc.string({ maxLength: 200 })),
        cutAt: fc.option(fc.nat({ max: 600 })),
        bareLf: fc.boolean(),
      })
      .map((m) => {
        const text = sipRequest({ ...m, callId: token(), fromTag: token(), headers: m.headers.map(([name, value]) => `${name}: ${value}`) });
        const lines = m.bareLf ? text.replaceAll('\r\n', '\n') : text;
        return m.cutAt === null ? lines : lines.slice(0, m.cutAt);
      }),
  },
  fc.tuple(fc.nat({ max: 999 }), fc.string({ maxLength: 20 })).map(([status, reason]) => `SIP/2.0 ${status} ${reason}\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n`),
  fc.string({ maxLength: 300 }),
);

/** What is done to a real browser's offer before it is dialled with: lines dropped, repeated, replaced or added, m-sections repeated. */
interface SdpEdit {
  op: 'drop' | 'repeat' | 'replace' | 'insert' | 'repeat-media';
  at: number;
  text: string;
  count: number;
}

const sdpEdits: fc.Arbitrary<SdpEdit[]> = fc.array(
  fc.record({
    op: fc.constantFrom('drop' as const, 'repeat' as const, 'replace' as const, 'insert' as const, 'repeat-media' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom('m=video 9 UDP/TLS/RTP/SAVPF 96', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=group:BUNDLE 0 1 2 3', 'a=rtpmap:96 VP8/0', 'a=fmtp:96 x=',
        'a=ssrc-group:FID 1', 'a=setup:passive', 'a=fingerprint:sha-256 00', 'a=candidate:1 1 udp 1 127.0.0.1 9 typ host', 'a=ice-pwd:', 'a=mid:', 'c=IN IP6 ::', 'a=extmap:99 x'),
      fc.string({ maxLength: 40 }),
    ),
    count: fc.nat({ max: 40 }),
  }),
  { maxLength: 4 },
);

function editSdp(sdp: string, edits: SdpEdit[]): string {
  const lines = sdp.split('\r\n').filter(Boolean);
  for (const { op, at, text, count } of edits) {
    const index = at % Math.max(1, lines.length);
    if (op === 'drop') lines.splice(index, 1);
    if (op === 'repeat') lines.splice(index, 0, ...Array<string>(count).fill(lines[index] ?? text));
    if (op === 'replace') lines[index] = text;
    if (op === 'insert') lines.splice(index, 0, text);
    if (op === 'repeat-media') {
      // The first m-section, `count` more times at the end.
      const first = lines.findIndex((line) => line.startsWith('m='));
      const next = lines.findIndex((line, i) => i > first && line.startsWith('m='));
      const section = first < 0 ? [] : lines.slice(first, next < 0 ? undefined : next);
      for (let i = 0; i < count; i++) lines.push(...section);
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

type SipInput = { messages: string[]; binary: Uint8Array | null } | { raw: Uint8Array[] } | { destination: string; edits: SdpEdit[] };

const sipInput: fc.Arbitrary<SipInput> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ messages: fc.array(sipMessage, { minLength: 1, maxLength: 3 }), binary: fc.option(bytes(200)) }) },
  rawFrames.map((raw) => ({ raw })),
  { weight: 2, arbitrary: fc.record({ destination: fc.constantFrom(...DESTINATIONS), edits: sdpEdits }) },
);

// --------------------------------------------------------------------------------------------------- tests

describe('fuzzing the ports of a live server', () => {
  const live = useLiveServer();
  const port = (): number => live.server.httpPort;

  beforeAll(async () => {
    const sql = await connect(live.server);
    await sql.query('INSERT INTO users_auth (id, hash) VALUES (?, ?)', [SIP_USER_ID, SIP_KEY]);
    await sql.end();
  });

  /** After the input: nothing escaped and the ports answer. */
  const unharmedAfter = <T>(send: (input: T) => Promise<void>) =>
    live.property(async (input: T) => {
      await send(input);
      await live.expectUnharmed();
    });

  it('cometql: a bystander is served and the call flows on', async () => {
    await fuzz(
      'port-cometql',
      cometqlInput,
      unharmedAfter(async (input) => {
        if (!input.loggedIn) return sendRaw(live.server.cometqlPort, input.data, true);
        const client: Connection = await connect(live.server, { user: TENANT, ...fromAddress(live.server, TENANT_ADDRESS) });
        client.on('error', () => undefined);
        // The driver is done once logged in: the packets go on its socket, and it no longer reads what comes back.
        const socket = (client as unknown as { connection: { stream: Socket } }).connection.stream;
        socket.removeAllListeners('data');
        const answered = answeredOrAfter(socket);
        for (const packet of input.packets) socket.write(packet);
        await answered;
        client.destroy();
      }),
    );
    await live.expectBystandersServed();
  }, fuzzTimeoutMs());

  it('http: a bystander is served and the call flows on', async () => {
    await fuzz('port-http', fc.oneof({ weight: 4, arbitrary: httpRequest }, bytes(600)), unharmedAfter((data) => sendRaw(port(), data)));
    await live.expectBystandersServed();
  }, fuzzTimeoutMs());

  it('comet WebSocket: a bystander is served and the call flows on', async () => {
    await fuzz(
      'port-comet-ws',
      cometInput,
      unharmedAfter(async (input) => {
        if ('raw' in input) return sendRawFrames(port(), '/ws/sesion=&myid=0&devid=0&v=4.08&uuid=fuzz&api=js', null, input.raw);
        const client = await cometClient(live.server, 0, '', { uuid: 'f'.repeat(32) });
        await sendFrames(client.ws, input.frames);
      }),
    );
    await live.expectBystandersServed();
  }, fuzzTimeoutMs());

  it('SIP WebSocket: a bystander is served and the call flows on', async () => {
    await fuzz(
      'port-sip-ws',
      sipInput,
      unharmedAfter(async (input) => {
        if ('raw' in input) return sendRawFrames(port(), '/sip', 'sip', input.raw);
        const client = await RawSipClient.connect(port());
        try {
          if ('destination' in input) {
            const offer = editSdp(live.legs[0]!.offer, input.edits);
            const invite = { uri: `sip:${input.destination}@localhost`, callId: token(), fromUser: SIP_USER, fromTag: token(), headers: [CONTACT, 'Content-Type: application/sdp'], body: offer };
            // Each INVITE gets its final answer, or the socket is closed (an oversized message); never silence.
            await Promise.race([inviteWithCredentials(client, invite, SIP_KEY), once(client.ws, 'close')]);
          }
          else await sendFrames(client.ws, input.binary ? [...input.messages, input.binary] : input.messages);
        } finally {
          client.ws.terminate();
        }
        // A mangled offer the mixer took made a member: it goes, as a BYE would take it.
        for (const room of [ROOM, 'elsewhere']) await live.server.model.leave(0, room, SIP_USER_ID, 'hangup');
      }),
    );
    await live.expectBystandersServed();
  }, fuzzTimeoutMs(60_000));
});
