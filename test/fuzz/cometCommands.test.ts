import { once } from 'node:events';
import fc from 'fast-check';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { internalErrorCounts, internalErrorTotal } from '../../src/faults.js';
import { Outbox } from '../../src/gateway/outbox.js';
import { parseCometUrl } from '../../src/gateway/url.js';
import { cometClient, type CometTestClient } from '../gateway/cometClient.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';

/**
 * The comet gateway's browser commands, sent by anonymous and authenticated sockets of a running server,
 * beside a watcher subscribed to the pipes they aim at. After each input no boundary reported an internal
 * error, the watcher is still connected, and a bystander authenticates and gets a pipe message. In process:
 * the URL parser, and the outbox a slow reader's frames wait in.
 */

const USER = { id: 1, key: 'fuzzUserKey1' };
const WATCHER = { id: 2, key: 'fuzzWatcherKey2' };
const BYSTANDER = { id: 3, key: 'fuzzBystanderKey3' };
const PIPES = ['web_fuzz', '@web_fuzz', 'webauth_fuzz', '@webauth_fuzz', 'track_fuzz', 'private_fuzz', 'trust_fuzz', 'web_history', 'user_status_1'];
const COMMANDS = ['subscription', 'web_pipe2', 'pipe_log', 'pipe_count', 'track_pipe_users', 'user_data', 'user_status', 'statistics', 'cgi_call', 'CometQL_call'];

/** A field: pipe names, ids, markers and the characters parsers trip on, or anything. */
const field = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PIPES) },
  { weight: 3, arbitrary: fc.constantFrom('*', '0', '1', '2', '7', '-1', ' 7 ', '99999999999999999999', '1e3', 'marker', 'evt', '') },
  fc.constantFrom(...COMMANDS, 'w'.repeat(64), `web_${'x'.repeat(61)}`, 'a b', 'é', '\u0000', '\r', '\\', '"', '{"a":1}', '[]', 'null'),
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);
/** `<command>\n<field>\n…`, the fields maybe joined by other separators, or a message of up to 60 KB. */
const command = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...COMMANDS), fc.array(field, { maxLength: 5 }), fc.constantFrom('\n', '\n', '\n', '\r\n', ' ')).map(([name, fields, separator]) => [name, ...fields].join(separator)) },
  fc.tuple(fc.constantFrom('web_pipe2\nweb_fuzz\nevt\n*\n', 'subscription\n', 'pipe_log\nweb_history\n'), fc.string({ maxLength: 4 }), fc.integer({ min: 1, max: 60_000 })).map(
    ([head, unit, times]) => head + (unit || 'x').repeat(times).slice(0, 60_000),
  ),
);
/** What no command starts with: CppComet closed the socket on it, so it comes last. */
const garbage = fc.oneof(fc.json({ maxDepth: 2 }), fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 100 }));
const input = fc.record({
  authorized: fc.boolean(),
  /** Its own address (through a proxy on loopback): budgets are per address. */
  address: fc.nat({ max: 255 }).map((n) => `10.1.0.${n}`),
  commands: fc.array(command, { minLength: 1, maxLength: 8 }),
  garbage: fc.option(garbage),
  /** A socket that reads nothing for a while as its commands are answered. */
  paused: fc.boolean(),
});

describe('fuzzing the comet commands', () => {
  let server: TestServer;
  let sql: Connection;
  let watcher: CometTestClient;
  let internalErrors = 0;
  let sequence = 0;

  beforeAll(async () => {
    server = await startTestServer();
    sql = await connect(server);
    for (const { id, key } of [USER, WATCHER, BYSTANDER]) await sql.query('INSERT INTO users_auth (id, hash) VALUES (?, ?)', [id, key]);
    await sql.query("INSERT INTO pipes_settings (name, length) VALUES ('web_history', 5)");
    for (let n = 0; n < 5; n++) await sql.query("INSERT INTO pipes_messages (name, event, message) VALUES ('web_history', 'e', ?)", [`history ${n}`]);
    await sql.query("INSERT INTO users_data (id, data) VALUES (1, 'data of 1')");
    await watch();
    internalErrors = internalErrorTotal();
  });
  afterAll(async () => {
    watcher?.ws.terminate();
    await sql?.end();
    await server?.close();
  });

  const watch = async (): Promise<void> => {
    watcher = await cometClient(server, WATCHER.id, WATCHER.key, { headers: { 'X-Forwarded-For': '10.2.0.1' } });
    await watcher.next('serverInfo');
    await watcher.send(`subscription\n${PIPES.filter((pipe) => !pipe.startsWith('@')).join('\n')}`);
  };

  /**
   * Nothing reached a boundary as a bug, the watcher is connected, and a bystander logs in and hears a pipe.
   * Each input is judged on its own (what one did is not held against the next), so shrinking finds its culprit.
   */
  const expectUnharmed = async (): Promise<void> => {
    const newInternalErrors = internalErrorTotal() - internalErrors;
    internalErrors += newInternalErrors;
    expect(newInternalErrors, JSON.stringify(Object.fromEntries(internalErrorCounts()))).toBe(0);
    if (watcher.ws.readyState !== WebSocket.OPEN) {
      await watch();
      expect.fail('the watcher was disconnected');
    }
    watcher.frames.length = 0;
    const bystander = await cometClient(server, BYSTANDER.id, BYSTANDER.key, { headers: { 'X-Forwarded-For': '10.3.0.1' } });
    try {
      expect(await bystander.next('serverInfo')).toMatchObject({ authorized: true });
      await bystander.send('subscription\nweb_bystander');
      const text = `hello ${++sequence}`;
      await sql.query("INSERT INTO pipes_messages (name, event, message) VALUES ('web_bystander', 'e', ?)", [text]);
      expect(await bystander.next((frame) => frame.pipe === 'web_bystander')).toMatchObject({ data: text });
    } finally {
      bystander.ws.terminate();
    }
  };

  it('the server takes any frames: no internal error, the watcher stays, a bystander is served', async () => {
    await fuzz('comet-commands', input, async ({ authorized, address, commands, garbage, paused }) => {
      const user = authorized ? USER : { id: 0, key: '' };
      const client = await cometClient(server, user.id, user.key, { headers: { 'X-Forwarded-For': address } });
      try {
        if (paused) client.ws.pause();
        for (const data of garbage === null ? commands : [...commands, garbage]) client.ws.send(data);
        if (paused) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          client.ws.resume();
        }
        // Read once the server answers a ping, or closed (an unknown command closes the socket).
        client.ws.ping();
        await Promise.race([once(client.ws, 'pong'), once(client.ws, 'close')]);
      } finally {
        client.ws.terminate();
      }
      await expectUnharmed();
    });
  }, fuzzTimeoutMs());

  it('the URL parser never throws, and what it accepts is in range', async () => {
    const piece = fc.oneof(fc.constantFrom('sesion=', 'myid=', 'devid=', 'uuid=', 'v=', 'api=', 'user_id=', '&', '?', '=', '%', '%zz', '%41', '-1', '1e21', '0x1f', ' '), fc.string({ maxLength: 40 }));
    const url = fc.tuple(fc.constantFrom('/ws/', '/comet-server/ws/', '/ws', '/sip', ''), fc.array(piece, { maxLength: 12 })).map(([prefix, pieces]) => prefix + pieces.join(''));
    await fuzz('comet-url', url, (path) => {
      const params = parseCometUrl(path);
      if (!params) return;
      for (const id of [params.userId, params.devId]) expect(Number.isSafeInteger(id) && id >= 0).toBe(true);
      expect(params.uuid.length).toBeLessThanOrEqual(32);
    });
  }, fuzzTimeoutMs());

  it("a slow reader's outbox keeps its order, its bound, and every frame it may not drop", async () => {
    const step = fc.oneof(fc.record({ push: fc.integer({ min: 1, max: 40 }), droppable: fc.boolean() }), fc.constant({ shift: true }));
    await fuzz('comet-outbox', fc.tuple(fc.integer({ min: 1, max: 100 }), fc.array(step, { maxLength: 200 })), ([maxBytes, steps]) => {
      const outbox = new Outbox(maxBytes);
      const kept: { n: number; droppable: boolean; size: number }[] = [];
      const taken: number[] = [];
      let n = 0;
      const take = () => {
        const next = outbox.shift();
        if (next) taken.push(next.readUInt32BE(0));
      };
      for (const action of steps) {
        if ('shift' in action) take();
        else {
          const bytes = Buffer.alloc(Math.max(4, action.push));
          bytes.writeUInt32BE(n);
          outbox.push(bytes, action.droppable);
          kept.push({ n: n++, droppable: action.droppable, size: bytes.length });
        }
      }
      const overflowing = outbox.isOverflowing();
      while (!outbox.isEmpty()) take();
      expect(taken).toEqual([...taken].sort((a, b) => a - b));
      const through = new Set(taken);
      expect(kept.filter((frame) => !frame.droppable && !through.has(frame.n))).toEqual([]);
      // Over its bound only with frames it may not drop.
      if (overflowing) expect(kept.filter((frame) => !frame.droppable).reduce((sum, frame) => sum + frame.size, 0)).toBeGreaterThan(maxBytes);
    });
  }, fuzzTimeoutMs());
});
