import { once } from 'node:events';
import fc from 'fast-check';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { internalErrorTotal } from '../../src/faults.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSipClient, register } from '../sip/rawClient.js';
import { WeriftMedia } from '../sip/weriftMedia.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';
import { sipFrame } from './sipInputs.js';

/**
 * The /sip WebSocket of a running server (the signalling alone, a werift stand-in for the mixer): a few
 * hostile frames on a socket of their own, then nothing escaped or reached an error boundary as a bug of
 * ours, and a bystander on another socket (and address, so no throttling of the fuzzer's touches it)
 * still registers.
 */

const BYSTANDER = { id: 77, key: 'bystanderKey0123' };

/** Sends the frames and waits until the server has read them (a ping's pong) or closed the socket. */
async function sendFrames(port: number, frames: Buffer[]): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/sip`, 'sip');
  ws.on('error', () => undefined);
  await once(ws, 'open');
  const closed = once(ws, 'close');
  for (const frame of frames) if (ws.readyState === WebSocket.OPEN) ws.send(frame);
  if (ws.readyState === WebSocket.OPEN) ws.ping();
  await Promise.race([once(ws, 'pong'), closed]);
  ws.terminate();
}

describe('fuzzing the /sip WebSocket of a running server', () => {
  const media = new WeriftMedia();
  const escaped: unknown[] = [];
  const noteEscape = (error: unknown): void => void escaped.push(error);
  let server: TestServer;
  let sql: Connection;
  let bystander: RawSipClient;

  beforeAll(async () => {
    process.on('uncaughtException', noteEscape);
    process.on('unhandledRejection', noteEscape);
    server = await startTestServer({}, media);
    sql = await connect(server);
    await sql.query('INSERT INTO users_auth (id, hash) VALUES (?, ?)', [BYSTANDER.id, BYSTANDER.key]);
    bystander = await RawSipClient.connect(server.httpPort, '127.0.0.2');
  });
  afterAll(async () => {
    process.off('uncaughtException', noteEscape);
    process.off('unhandledRejection', noteEscape);
    await bystander?.close();
    await sql?.end();
    await server?.close();
    await media.close();
  });

  it('takes any frames: nothing escapes, no internal error, and a bystander still registers', async () => {
    const bystanderUser = `000000${BYSTANDER.id}`;
    const contact = '<sip:bystander@x.invalid;transport=ws>;reg-id=1;+sip.instance="<urn:uuid:bystander>"';
    await fuzz('sip-port', fc.array(sipFrame, { minLength: 1, maxLength: 5 }), async (frames) => {
      const internalErrors = internalErrorTotal();
      await sendFrames(server.httpPort, frames);
      expect(escaped.splice(0)).toEqual([]);
      expect(internalErrorTotal() - internalErrors).toBe(0);
      expect((await register(bystander, bystanderUser, BYSTANDER.key, contact)).status).toBe(200);
    });
    expect(server.sip.registrations(0, BYSTANDER.id)).toHaveLength(1);
  }, fuzzTimeoutMs());
});
