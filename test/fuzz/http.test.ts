import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalErrorTotal } from '../../src/faults.js';
import { rawHttp, startTestServer, type TestServer } from '../helpers/server.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';

/**
 * The HTTP port of a running server, over raw TCP: request lines with absolute-form targets, broken
 * %-escapes, backslashes and brackets, paths of every route (/hls/, /examples/, /metrics…), huge headers,
 * WebSocket upgrades to /sip and /ws/, and plain random bytes. After each, nothing escaped as an uncaught
 * exception or rejection (which would end the server process), no boundary reported an internal error, and
 * the server still answers /info.
 */

const text = (chars: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...chars), maxLength });
const HOSTILE = 'abcxyz0189:/@[]%?#&=.\\-_~ +"\'<>{}|^`\u00e9';

const segment = fc.oneof(
  fc.constantFrom('info', 'metrics', 'hls', 'sip', 'ws', 'examples', 'vendor', 'CometServerApi.js', '0', '7', 'room', 'index.m3u8', 'index.mpd', 'init-1.mp4', 'part-1.0.m4s', 'segment-5.ts', '..', '.', '', '%', '%E0%A4%A', '%2e%2e', '%00', '%2F', 'viewer.html'),
  text(HOSTILE, 12),
);
const path = fc.array(segment, { maxLength: 6 }).map((segments) => `/${segments.join('/')}`);
const query = fc.option(
  fc.array(fc.tuple(fc.constantFrom('_HLS_msn', '_HLS_part', 'token', 'x', '%'), fc.oneof(fc.nat().map(String), text(HOSTILE, 16))), { maxLength: 3 }).map(
    (pairs) => `?${pairs.map(([key, value]) => `${key}=${value}`).join('&')}`,
  ),
  { nil: '' },
);
const target = fc.oneof(
  fc.tuple(path, query).map(([p, q]) => p + q),
  // Absolute form, with any authority: ports out of range, brackets, credentials.
  fc.tuple(fc.constantFrom('http', 'https', 'ws', 'HTTP', 'x'), text(HOSTILE, 16), path, query).map(([scheme, authority, p, q]) => `${scheme}://${authority}${p}${q}`),
  fc.tuple(fc.constantFrom('//', '/\\', '\\\\', '///', 'http:', 'http:\\\\'), path).map(([prefix, p]) => prefix + p),
  fc.constantFrom('*', 'http://', 'http://[/', 'http://x:99999/'),
  text(HOSTILE, 40),
);
const header = fc.tuple(fc.oneof(fc.constantFrom('Host', 'Cookie', 'Authorization', 'User-Agent', 'Content-Length', 'Transfer-Encoding', 'Upgrade', 'Connection'), text('abcXYZ-_:', 12)), text(HOSTILE, 40));
const request = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'OPTIONS', 'CONNECT', 'PRI'), text('ABCXYZ', 8)),
  target,
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', ''),
  headers: fc.array(header, { maxLength: 5 }),
  huge: fc.option(fc.integer({ min: 1, max: 200_000 }), { freq: 5 }),
  upgrade: fc.boolean(),
});

type HttpRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

function requestBytes({ method, target, version, headers, huge, upgrade }: HttpRequest): string {
  const lines = [`${method} ${target} ${version}`.trimEnd(), 'Host: x', ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (huge) lines.push(`X-Huge: ${'a'.repeat(huge)}`);
  if (upgrade) {
    lines.push('Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol: sip');
  } else {
    lines.push('Connection: close');
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

describe('fuzz: the HTTP port', () => {
  let server: TestServer;
  // What would end the server process, seen here so the input that caused it is kept as a regression case.
  const escaped: unknown[] = [];
  const escape = (error: unknown): number => escaped.push(error);
  beforeAll(async () => {
    server = await startTestServer();
    process.on('uncaughtException', escape).on('unhandledRejection', escape);
  });
  afterAll(async () => {
    process.off('uncaughtException', escape).off('unhandledRejection', escape);
    await server?.close();
  });

  it('answers or closes hostile request lines, paths, headers and upgrades, and goes on serving', async () => {
    const input = fc.oneof({ arbitrary: request.map(requestBytes), weight: 5 }, { arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)), weight: 1 });
    await fuzz('http', input, async (bytes) => {
      escaped.length = 0;
      const internalErrors = internalErrorTotal();
      // An upgrade that succeeds stays open: a short look is enough to see what was answered.
      await rawHttp(server, bytes, 200);
      const info = await fetch(`http://127.0.0.1:${server.httpPort}/info`);
      expect(info.status).toBe(200);
      await info.body?.cancel();
      expect(escaped).toEqual([]);
      expect(internalErrorTotal()).toBe(internalErrors);
    });
  }, fuzzTimeoutMs());
});
