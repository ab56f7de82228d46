import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CometSocket, type SlowReaderEvents } from '../../src/gateway/socket.js';

/** A CometSocket over a real WebSocket on loopback, and the browser end of it. */
async function socketPair(stallMs: number, cutOff: SlowReaderEvents['cutOff']) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const browser = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`);
  const [ws] = (await accepted) as [WebSocket];
  await once(browser, 'open');
  const identity = { devId: 0, userId: 0, uuid: '', info: { userAgent: '', ip: '', origin: '', language: '' } };
  const socket = new CometSocket(ws, identity, { dropped() {}, cutOff }, { inFlightBytes: 64 * 1024, outboxBytes: 256 * 1024, stallMs });
  return { server, browser, ws, socket };
}

describe('a comet socket whose browser reads nothing', () => {
  const servers: WebSocketServer[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) {
      for (const client of server.clients) client.terminate();
      server.close();
    }
  });
  /** 30 MB of pipe messages: far more than loopback's socket buffers, the in-flight bytes and the outbox hold. */
  const flood = (socket: CometSocket) => {
    for (let n = 0; n < 500; n++) socket.send(Buffer.from(JSON.stringify({ n, pad: 'x'.repeat(60_000) })), 'pipe');
  };

  it('is cut off once it has read nothing for its stall time', async () => {
    let cutOff!: (reason: string) => void;
    const reason = new Promise<string>((resolve) => (cutOff = resolve));
    const { server, browser, ws, socket } = await socketPair(500, (_, why) => cutOff(why));
    servers.push(server);
    browser.pause();
    const closed = once(ws, 'close');
    const started = Date.now();
    flood(socket);
    expect(await reason).toBe('stalled');
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    await closed;
    expect(socket.isOpen()).toBe(false);
  });

  it('is not cut off when it reads again in time', async () => {
    const reasons: string[] = [];
    const { server, browser, socket } = await socketPair(3000, (_, reason) => reasons.push(reason));
    servers.push(server);
    browser.pause();
    flood(socket);
    const last = new Promise<void>((resolve) => browser.on('message', (data) => JSON.parse(String(data)).n === 499 && resolve()));
    setTimeout(() => browser.resume(), 100);
    await last;
    // Well past the stall time, with nothing waiting any more: still open.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(reasons).toEqual([]);
    expect(browser.readyState).toBe(WebSocket.OPEN);
  });
});
