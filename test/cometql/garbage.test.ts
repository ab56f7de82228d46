import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as tcpConnect, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

/** A raw TCP client that collects everything the server sends until it closes. */
async function rawClient(server: TestServer): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<void> }> {
  const socket = tcpConnect(server.cometqlPort, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = once(socket, 'close').then(() => undefined);
  await once(socket, 'connect');
  return { socket, received: () => Buffer.concat(chunks), closed };
}

const openConnections = async (server: TestServer): Promise<number> =>
  (await server.metrics.cometqlConnections.get()).values[0]?.value ?? 0;

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The raw socket under a mysql2 connection, to send what no driver would. */
const streamOf = (client: Connection): Socket => (client as unknown as { connection: { stream: Socket } }).connection.stream;

function packet(sequence: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequence;
  return Buffer.concat([header, payload]);
}

describe('hostile input', () => {
  let server: TestServer;
  let bystander: Connection;
  beforeAll(async () => {
    server = await startTestServer();
    bystander = await connect(server);
  });
  afterAll(async () => {
    await bystander.end();
    await server.close();
  });

  const bystanderStillWorks = async (): Promise<void> => {
    expect((await bystander.query('SELECT 1 AS one'))[0]).toEqual([{ one: '1' }]);
  };

  it('random bytes instead of a login close that connection only', async () => {
    for (let i = 0; i < 20; i++) {
      const client = await rawClient(server);
      client.socket.write(randomBytes(1 + Math.floor(Math.random() * 4000)));
      await Promise.race([client.closed, new Promise((resolve) => setTimeout(resolve, 300))]);
      client.socket.destroy();
    }
    await bystanderStillWorks();
    await waitFor(async () => (await openConnections(server)) === 1);
  });

  it('truncated packets and half-sent logins are cleaned up when the client goes away', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => rawClient(server)));
    for (const client of clients) client.socket.write(Buffer.from([0x64, 0x00, 0x00, 0x01, 0x0d, 0xa2])); // 100 bytes announced, 2 sent
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const client of clients) client.socket.destroy();
    await waitFor(async () => (await openConnections(server)) === 1);
    await bystanderStillWorks();
  });

  it('an oversized login packet is refused and closed', async () => {
    const client = await rawClient(server);
    client.socket.write(packet(1, Buffer.alloc(64 * 1024, 0x41)));
    await client.closed;
    const reply = client.received();
    // The greeting, then an ERR packet (0xff) with code 11.
    const err = reply.subarray(4 + reply.readUIntLE(0, 3));
    expect(err[4]).toBe(0xff);
    expect(err.readUInt16LE(5)).toBe(11);
  });

  it('a 16 MiB query gets "Data is too long" and the connection stays in sync', async () => {
    const client = await connect(server, { maxPreparedStatements: 0 });
    try {
      const huge = `SELECT * FROM conference WHERE name = '${'x'.repeat(16 * 1024 * 1024)}'`;
      await expect(client.query(huge)).rejects.toMatchObject({ errno: 11, message: 'Data is too long' });
      expect((await client.query('SELECT 2 AS two'))[0]).toEqual([{ two: '2' }]);
    } finally {
      await client.end();
    }
    await bystanderStillWorks();
  });

  it('unknown commands and binary garbage in queries get ERR packets on a live connection', async () => {
    // Each on its own logged-in connection: the driver gives up on a connection that gets unasked-for replies.
    const garbage = [Buffer.from([0x55, 1, 2, 3]), Buffer.concat([Buffer.from([0x03]), randomBytes(300)]), Buffer.from([0x03])];
    for (const payload of garbage) {
      const client = await connect(server);
      try {
        const stream = streamOf(client);
        const replies: Buffer[] = [];
        stream.prependListener('data', (chunk: Buffer) => void replies.push(chunk));
        stream.write(packet(0, payload));
        await waitFor(async () => Buffer.concat(replies).length >= 5);
        expect(Buffer.concat(replies)[4]).toBe(0xff);
      } finally {
        client.destroy();
      }
    }
    await bystanderStillWorks();
  });

  it('500 connections opened and dropped leave nothing behind', async () => {
    const before = process.memoryUsage().heapUsed;
    for (let batch = 0; batch < 5; batch++) {
      const clients = await Promise.all(Array.from({ length: 100 }, () => rawClient(server)));
      clients.forEach((client, i) => (i % 2 === 0 ? client.socket.destroy() : client.socket.end()));
      await Promise.all(clients.map((client) => client.closed));
    }
    await waitFor(async () => (await openConnections(server)) === 1);
    await bystanderStillWorks();
    global.gc?.();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 * 1024 * 1024);
  });

  it('connections over the limit get MySQL error 1040', async () => {
    const limited = await startTestServer({ COMET_COMETQL_MAX_CONNECTIONS: '2' });
    const held = [await connect(limited), await connect(limited)];
    try {
      await expect(connect(limited)).rejects.toMatchObject({ errno: 1040 });
    } finally {
      await Promise.all(held.map((client) => client.end()));
      await limited.close();
    }
  });
});
