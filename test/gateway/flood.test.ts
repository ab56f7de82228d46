import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { once } from 'node:events';
import type { Connection } from 'mysql2/promise';
import { pino } from 'pino';
import { MAX_HISTORY_ANSWER_BYTES } from '../../src/gateway/commands.js';
import { SEND_RATES } from '../../src/gateway/sendBudget.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { cometClient, type CometTestClient, type Frame } from './cometClient.js';

/** The server's warnings and errors, kept here: startTestServer's logger writes to this. */
const lines = vi.hoisted((): { level: number; msg: string }[] => []);
vi.mock('../../src/log.js', async (original) => ({
  ...(await original<typeof import('../../src/log.js')>()),
  createLogger: () => pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) }),
}));

const onPipe = (pipe: string) => (frame: Frame) => frame.pipe === pipe;
const isRefusal = (frame: Frame): boolean => frame.event === 'error' && (frame.data as { code?: string }).code === '429';

describe('the comet WebSocket under flood', () => {
  let server: TestServer;
  let sql: Connection;
  const open: CometTestClient[] = [];
  /** An anonymous browser; each test's come from their own address (through a proxy on loopback), as budgets are per address. */
  const anonymous = async (address: string): Promise<CometTestClient> => {
    const client = await cometClient(server, 0, '', { headers: { 'X-Forwarded-For': `10.0.0.1, ${address}` } });
    await client.next('serverInfo');
    open.push(client);
    return client;
  };
  beforeAll(async () => {
    server = await startTestServer();
    sql = await connect(server);
  });
  afterAll(async () => {
    for (const client of open) client.ws.terminate();
    await sql.end();
    await server.close();
  });

  it('holds the senders of one address to its budget: the pipe hears them at that rate and stays connected', async () => {
    const subscriber = await anonymous('192.0.2.1');
    await subscriber.send('subscription\nweb_burst');
    const senders = await Promise.all(Array.from({ length: 8 }, () => anonymous('192.0.2.2')));
    const message = 'm'.repeat(60_000);
    const started = Date.now();
    // 8 sockets × 40 messages of 60 KB: 19 MB at once, under the command flood limit of each socket.
    for (const sender of senders) for (let i = 0; i < 40; i++) sender.ws.send(`web_pipe2\nweb_burst\ntick\n*\n${message}`);
    const answers = await Promise.all(senders.map((sender) => sender.take((frame) => frame.pipe === '_answer_to_web_burst' || isRefusal(frame), 40, 10_000)));
    const elapsedSeconds = (Date.now() - started) / 1000;
    const accepted = answers.flat().filter((frame) => frame.pipe === '_answer_to_web_burst');
    // The address's burst and what it earned meanwhile, and one message of debt per socket at most.
    const allowed = SEND_RATES.address.burst + SEND_RATES.address.perSecond * elapsedSeconds + senders.length * message.length;
    expect(accepted.length * message.length).toBeLessThanOrEqual(allowed);
    expect(accepted.length).toBeGreaterThan(0);
    expect(answers.flat().filter(isRefusal).length).toBe(8 * 40 - accepted.length);
    const heard = await subscriber.take(onPipe('web_burst'), accepted.length, 10_000);
    expect(heard.every((frame) => frame.data === message)).toBe(true);
    expect(subscriber.ws.readyState).toBe(subscriber.ws.OPEN);
  });

  it('answers pipe_log with the newest messages that fit its bound', async () => {
    await sql.query("INSERT INTO pipes_settings (name, length) VALUES ('web_history', 20)");
    for (let n = 0; n < 20; n++) {
      await sql.query('INSERT INTO pipes_messages (name, event, message) VALUES (?, ?, ?)', ['web_history', 'e', `${String(n).padStart(2, '0')}${'h'.repeat(59_998)}`]);
    }
    const reader = await anonymous('192.0.2.3');
    await reader.send('pipe_log\nweb_history\n');
    const fit = Math.floor(MAX_HISTORY_ANSWER_BYTES / 60_000);
    const history = await reader.take(onPipe('web_history'), fit);
    expect(history.map((frame) => Number(String(frame.data).slice(0, 2)))).toEqual(Array.from({ length: fit }, (_, i) => 20 - fit + i));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(reader.frames.filter(onPipe('web_history'))).toEqual([]);
  });

  it('closes flooding sockets and logs a line for them all, not one per frame', async () => {
    const before = lines.length;
    const flooders = await Promise.all(Array.from({ length: 3 }, () => anonymous('192.0.2.4')));
    const closed = flooders.map((flooder) => once(flooder.ws, 'close'));
    for (const flooder of flooders) for (let i = 0; i < 7000; i++) flooder.ws.send('pipe_count\nweb_burst\nm');
    for (const [code] of await Promise.all(closed)) expect(code).toBe(4004);
    // What they had sent before the close reached them is read and ignored.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const logged = lines.slice(before);
    expect(logged.filter((line) => line.msg.includes('flooding'))).toHaveLength(1);
    expect(logged.length).toBeLessThanOrEqual(2);
    // A bystander is served.
    const bystander = await anonymous('192.0.2.4');
    await bystander.send('pipe_count\nweb_burst\nm');
    expect(await bystander.next('user_in_pipe')).toMatchObject({ data: { user_in_pipe: 1 } });
  });
});
