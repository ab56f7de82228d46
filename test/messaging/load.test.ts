import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

const CLIENTS = 1000;
const BURST = 50;
const PIPE = 'web_load';

/**
 * The subscribers run in a worker thread, as browsers run elsewhere: the server's event loop does only the
 * server's work. Each records when every frame of the pipe arrived (epoch ms) and its sequence number.
 */
const SUBSCRIBERS = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.wsModule);
const now = () => performance.timeOrigin + performance.now();
const clients = [];
parentPort.on('message', async (command) => {
  if (command === 'connect') {
    for (let batch = 0; batch < workerData.count; batch += 100) {
      await Promise.all(Array.from({ length: Math.min(100, workerData.count - batch) }, (_, i) => new Promise((resolve, reject) => {
        // Browsers come from many addresses, and one address may hold only 256 comet sockets: 200 per address here.
        const ws = new WebSocket(workerData.url + 'load' + (batch + i) + '&api=js', { localAddress: '127.0.0.' + (10 + Math.floor((batch + i) / 200)) });
        const client = { ws, arrivals: [], sequence: [] };
        ws.once('message', () => { ws.send('subscription\\n' + workerData.pipe); resolve(); });
        ws.on('message', (data) => {
          const text = data.toString();
          if (!text.includes('"pipe":"' + workerData.pipe + '"')) return;
          client.arrivals.push(now());
          client.sequence.push(Number(/\\\\"n\\\\":(\\d+)/.exec(text)[1]));
        });
        ws.on('error', reject);
        clients.push(client);
      })));
    }
    parentPort.postMessage('connected');
  } else if (command === 'report') {
    parentPort.postMessage(clients.map(({ arrivals, sequence }) => ({ arrivals, sequence })));
  } else if (command === 'close') {
    for (const { ws } of clients) ws.terminate();
    parentPort.postMessage('closed');
  }
});
`;

interface Report {
  arrivals: number[];
  sequence: number[];
}

const now = (): number => performance.timeOrigin + performance.now();
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

describe('load: one pipe, 1000 subscribers', () => {
  let server: TestServer;
  let sql: Connection;
  let worker: Worker;
  const ask = async <T>(command: string): Promise<T> => {
    worker.postMessage(command);
    return (await once(worker, 'message'))[0] as T;
  };
  /** Waits until every subscriber has `count` frames, and returns what they got. */
  const arrived = async (count: number): Promise<Report[]> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const reports = await ask<Report[]>('report');
      if (reports.every((report) => report.arrivals.length >= count)) return reports;
      if (Date.now() > deadline) throw new Error(`${reports.filter((report) => report.arrivals.length < count).length} subscribers short`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  beforeAll(async () => {
    server = await startTestServer();
    sql = await connect(server);
    const url = `ws://127.0.0.1:${server.httpPort}/ws/sesion=&myid=0&devid=0&v=4.08&uuid=`;
    worker = new Worker(SUBSCRIBERS, { eval: true, workerData: { url, count: CLIENTS, pipe: PIPE, wsModule: createRequire(import.meta.url).resolve('ws') } });
    await ask('connect');
    for (;;) {
      const [[row]] = await sql.query<RowDataPacket[]>(`SELECT users FROM pipes WHERE name = '${PIPE}'`);
      if (Number(row!.users) === CLIENTS) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }, 30_000);
  afterAll(async () => {
    await ask('close');
    await worker.terminate();
    await sql.end();
    await server.close();
  });

  it('one INSERT INTO pipes_messages reaches every subscriber', async () => {
    const sent = now();
    await sql.query(`INSERT INTO pipes_messages (name, event, message) VALUES ('${PIPE}', 'tick', '{"n":0}')`);
    const reports = await arrived(1);
    const latencies = reports.map((report) => report.arrivals[0]! - sent).sort((a, b) => a - b);
    const last = latencies[latencies.length - 1]!;
    console.log(
      `fan-out of one INSERT to ${CLIENTS} sockets: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ` +
        `last ${last.toFixed(1)} ms (${Math.round((CLIENTS / last) * 1000).toLocaleString('en')} messages/s)`,
    );
    expect(latencies).toHaveLength(CLIENTS);
    expect(percentile(latencies, 99)).toBeLessThan(1000);
  });

  it(`${BURST} INSERTs in a row reach every subscriber, in order`, async () => {
    const started = now();
    await Promise.all(
      Array.from({ length: BURST }, (_, n) => sql.query(`INSERT INTO pipes_messages (name, event, message) VALUES ('${PIPE}', 'tick', '{"n":${n + 1}}')`)),
    );
    const reports = await arrived(BURST + 1);
    const elapsed = Math.max(...reports.map((report) => report.arrivals[BURST]!)) - started;
    console.log(
      `${BURST} INSERTs × ${CLIENTS} sockets: ${(BURST * CLIENTS).toLocaleString('en')} messages in ${elapsed.toFixed(0)} ms ` +
        `(${Math.round((BURST * CLIENTS * 1000) / elapsed).toLocaleString('en')} messages/s)`,
    );
    for (const report of reports) expect(report.sequence).toEqual([...Array(BURST + 1).keys()]);
  });
});
