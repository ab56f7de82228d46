import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { cometClient, type CometTestClient, type Frame } from '../gateway/cometClient.js';

/**
 * The messaging tables and the browser commands, as CppComet's own suite (coverage/test/simpletest.js)
 * exercises them: mysql2 on the query side, `ws` clients with CppComet's URL on the browser side.
 */
describe('messaging: CometQL tables and comet pipes', () => {
  let server: TestServer;
  let sql: Connection;
  const open: CometTestClient[] = [];
  const rows = async (query: string): Promise<RowDataPacket[]> => (await sql.query<RowDataPacket[]>(query))[0];
  const ok = async (query: string): Promise<ResultSetHeader> => (await sql.query<ResultSetHeader>(query))[0];
  /** A browser of user `userId` (0: anonymous) that has its serverInfo. */
  const browser = async (userId: number, uuid = `uuid${userId}`.padEnd(32, 'x'), headers?: Record<string, string>) => {
    const client = await cometClient(server, userId, userId ? `key${userId}` : '', { uuid, headers });
    await client.next('serverInfo');
    open.push(client);
    return client;
  };
  const closeBrowser = async (client: CometTestClient): Promise<void> => {
    const closed = once(client.ws, 'close');
    client.ws.close();
    await closed;
  };
  const subscribe = (client: CometTestClient, ...pipes: string[]): Promise<void> => client.send(`subscription\n${pipes.join('\n')}`);
  const onPipe = (pipe: string, event?: string) => (frame: Frame) => frame.pipe === pipe && (event === undefined || frame.event === event);
  const settle = (ms = 150): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    server = await startTestServer();
    sql = await connect(server);
    for (let id = 1; id <= 9; id++) await sql.query('INSERT INTO users_auth (id, hash) VALUES (?, ?)', [id, `key${id}`]);
  });
  afterAll(async () => {
    for (const client of open) client.ws.terminate();
    await sql.end();
    await server.close();
  });

  describe('users_messages', () => {
    it('delivers to every socket of the user, on pipe msg', async () => {
      const tabs = [await browser(1), await browser(1)];
      const result = await ok(`INSERT INTO users_messages (id, event, message) VALUES (1, 'hello', '{"text":"hi"}')`);
      expect(result).toMatchObject({ affectedRows: 1, insertId: 1 });
      for (const tab of tabs) expect(await tab.next('hello')).toMatchObject({ pipe: 'msg', data: '{"text":"hi"}' });
      // Delivered, so nothing waits in the queue.
      expect(await rows('SELECT * FROM users_messages WHERE id = 1')).toEqual([]);
    });

    it('queues for an offline user: SELECT shows the queue, DELETE empties it, a connect delivers it', async () => {
      await ok('DELETE FROM users_messages WHERE id = 2');
      await ok(`INSERT INTO users_messages (id, event, message) VALUES (2, 'later', 'first'), (2, 'later', 'second')`);
      const queued = await rows('SELECT * FROM users_messages WHERE id = 2');
      expect(queued.map((row) => [row.id, row.event, row.message])).toEqual([['2', 'later', 'first'], ['2', 'later', 'second']]);
      expect(queued[0]!.index).toMatch(/^[0-9a-f-]{36}$/);
      expect((await ok(`DELETE FROM users_messages WHERE id = 2 AND \`index\` = '${queued[0]!.index}'`)).affectedRows).toBe(1);

      const tab = await browser(2);
      expect(await tab.next('later')).toMatchObject({ pipe: 'msg', data: 'second', fromQueue: true });
      expect(await rows('SELECT * FROM users_messages WHERE id = 2')).toEqual([]);

      await closeBrowser(tab);
      await ok(`INSERT INTO users_messages (id, event, message) VALUES (2, 'gone', 'x')`);
      expect((await ok('DELETE FROM users_messages WHERE id = 2')).affectedRows).toBe(1);
      expect(await rows('SELECT * FROM users_messages WHERE id = 2')).toEqual([]);
    });

    it('delivers 60 short messages, all of them and in order', async () => {
      const tab = await browser(5);
      let message = '';
      for (let i = 0; i < 60; i++) {
        message += String(i % 9);
        void sql.query(`INSERT INTO users_messages (id, event, message) VALUES (5, 'user', '${message}')`);
      }
      const frames = await tab.take('user', 60);
      expect(frames.map((frame) => String(frame.data).length)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    });

    it('refuses bad values with CppComet codes and messages', async () => {
      await expect(sql.query(`INSERT INTO users_messages (id, event) VALUES (1, 'e')`)).rejects.toMatchObject({ errno: 12, sqlMessage: 'field `message` is required' });
      await expect(sql.query(`INSERT INTO users_messages (id, event, message) VALUES (1, 'bad event', 'm')`)).rejects.toMatchObject({
        errno: 12,
        sqlMessage: 'The channel name can contain only the characters A-Za-z0-9_-',
      });
      await expect(sql.query(`INSERT INTO users_messages (id, event, message) VALUES (1, '${'e'.repeat(65)}', 'm')`)).rejects.toMatchObject({
        errno: 11,
        sqlMessage: 'Channel event_name is too long',
      });
      await expect(sql.query(`INSERT INTO users_messages (id, event, message) VALUES (1, 'e', '${'m'.repeat(65 * 1024)}')`)).rejects.toMatchObject({
        errno: 11,
        sqlMessage: 'Data is too long',
      });
      await expect(sql.query('SELECT * FROM users_messages')).rejects.toMatchObject({ errno: 13 });
    });
  });

  describe('users_time and user_status_<id>', () => {
    it('is 0 online, the unix time of the last socket closing offline, -1 unknown: id IN (1, 3, 99996) gives 3 rows', async () => {
      const watcher = await browser(9);
      await subscribe(watcher, 'user_status_3');
      const first = await browser(3);
      expect(await watcher.next(onPipe('user_status_3'))).toMatchObject({ event: 'online', data: 'online' });
      const second = await browser(3);
      await closeBrowser(first);
      const online = await rows('SELECT * FROM users_time WHERE id IN (1, 3, 99996)');
      expect(online.map((row) => [row.id, row.time])).toEqual([['1', '0'], ['3', '0'], ['99996', '-1']]);

      const before = Math.floor(Date.now() / 1000);
      await closeBrowser(second);
      expect(await watcher.next(onPipe('user_status_3'))).toMatchObject({ event: 'offline', data: 'offline' });
      // One notice per user, not per socket.
      expect(watcher.frames.filter(onPipe('user_status_3'))).toEqual([]);
      const [offline] = await rows('SELECT time FROM users_time WHERE id = 3');
      expect(Number(offline!.time)).toBeGreaterThanOrEqual(before);
      expect(Number(offline!.time)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));

      await watcher.send('user_status\n99996');
      expect(await watcher.next(onPipe('_answer_user_status'))).toMatchObject({ event: 'user_status_99996', data: { time: -1, last_online_time: -1 } });
    });

    it('is read only', async () => {
      await expect(sql.query('INSERT INTO users_time (id, time) VALUES (1, 2)')).rejects.toMatchObject({ errno: 10, sqlMessage: 'Table `users_time` is read only' });
      await expect(sql.query('DELETE FROM users_time WHERE id = 1')).rejects.toMatchObject({ errno: 10 });
    });
  });

  describe('pipes_messages, pipes_settings and history', () => {
    it('broadcasts an INSERT to every subscriber of the pipe', async () => {
      const a = await browser(1);
      const b = await browser(0);
      await subscribe(a, 'tttest_1', 'other');
      await subscribe(b, 'tttest_1');
      for (let i = 0; i < 20; i++) await ok(`INSERT INTO pipes_messages (name, event, message) VALUES ('tttest_1', 'evt', '{"index":${i}}')`);
      for (const client of [a, b]) {
        const frames = await client.take(onPipe('tttest_1', 'evt'), 20);
        expect(frames.map((frame) => JSON.parse(String(frame.data)).index)).toEqual([...Array(20).keys()]);
      }
      // No settings: nothing kept.
      expect(await rows(`SELECT * FROM pipes_messages WHERE name = 'tttest_1'`)).toEqual([]);
    });

    it('keeps pipes_settings.length messages, readable by SELECT and by pipe_log', async () => {
      // CppComet's own test quotes the column names.
      expect(await ok(`INSERT INTO pipes_settings ("name", "length") VALUES ("test_pipelog", 2)`)).toMatchObject({ affectedRows: 1 });
      expect(await rows(`SELECT * FROM pipes_settings WHERE name = "test_pipelog"`)).toEqual([{ name: 'test_pipelog', length: '2' }]);
      for (const text of ['one', 'two', 'three']) await ok(`INSERT INTO pipes_messages (name, event, message) VALUES ('test_pipelog', 'e1', '${text}')`);
      const history = await rows(`SELECT * FROM pipes_messages WHERE name = 'test_pipelog'`);
      expect(history.map((row) => [row.name, row.index, row.event, row.message, row.user_id])).toEqual([
        ['test_pipelog', '0', 'e1', 'two', '0'],
        ['test_pipelog', '1', 'e1', 'three', '0'],
      ]);
      expect(history[0]!.id).toMatch(/^[0-9a-f-]{36}$/);

      const reader = await browser(4);
      await reader.send('pipe_log\ntest_pipelog\nmarker1\n');
      const log = await reader.take(onPipe('test_pipelog'), 2);
      expect(log.map((frame) => [frame.data, frame.event, frame.history, frame.marker])).toEqual([
        ['two', 'e1', true, undefined],
        ['three', 'e1', true, undefined],
      ]);

      expect((await ok(`DELETE FROM pipes_messages WHERE id = '${history[0]!.id}'`)).affectedRows).toBe(1);
      expect(await rows(`SELECT message FROM pipes_messages WHERE name = 'test_pipelog'`)).toEqual([{ message: 'three' }]);
      // Deleting the setting deletes the history with it.
      expect((await ok(`DELETE FROM pipes_settings WHERE name = 'test_pipelog'`)).affectedRows).toBe(1);
      expect(await rows(`SELECT * FROM pipes_messages WHERE name = 'test_pipelog'`)).toEqual([]);
      expect(await rows(`SELECT * FROM pipes_settings WHERE name = 'test_pipelog'`)).toEqual([]);
    });

    it('keeps trust_ pipes without a setting, and UPDATE changes a length', async () => {
      await ok(`INSERT INTO pipes_messages (name, event, message) VALUES ('trust_room', 'e', 'kept')`);
      expect(await rows(`SELECT message FROM pipes_messages WHERE name = 'trust_room'`)).toEqual([{ message: 'kept' }]);
      await ok(`INSERT INTO pipes_settings (name, length) VALUES ('short_log', 5000)`);
      expect(await rows(`SELECT length FROM pipes_settings WHERE name = 'short_log'`)).toEqual([{ length: '1000' }]);
      expect((await ok(`UPDATE pipes_settings SET length = 1 WHERE name = 'short_log'`)).affectedRows).toBe(1);
      expect(await rows(`SELECT length FROM pipes_settings WHERE name = 'short_log'`)).toEqual([{ length: '1' }]);
    });

    it('checks names with CppComet codes and messages', async () => {
      const insert = (name: string) => sql.query(`INSERT INTO pipes_messages (name, event, message) VALUES ('${name}', 'e', 'm')`);
      await expect(insert('ab')).rejects.toMatchObject({ errno: 17, sqlMessage: 'Channel name is too short' });
      await expect(insert('p'.repeat(65))).rejects.toMatchObject({ errno: 11, sqlMessage: 'Channel name is too long' });
      await expect(insert('bad name')).rejects.toMatchObject({ errno: 12, sqlMessage: 'The channel name can contain only the characters A-Za-z0-9_-' });
      await expect(sql.query(`INSERT INTO pipes_messages (name, message) VALUES ('pipe', 'm')`)).rejects.toMatchObject({ errno: 12, sqlMessage: 'field `event` is required' });
      await expect(sql.query('DELETE FROM pipes_messages')).rejects.toMatchObject({
        errno: 13,
        sqlMessage: 'Deleting without transferring the requested values of the primary key is not supported',
      });
      await expect(sql.query(`SELECT * FROM pipes_messages WHERE id = 'x'`)).rejects.toMatchObject({ errno: 13 });
    });
  });

  describe('pipes and users_in_pipes', () => {
    it('count subscribers and describe each socket; both are read only', async () => {
      const client = await browser(6, 'Z'.repeat(32), { 'User-Agent': 'test-agent/1.0', Origin: 'http://example.test', 'Accept-Language': 'fr' });
      const anonymous = await browser(0, 'Y'.repeat(32));
      await subscribe(client, 'tttest_7');
      await subscribe(anonymous, 'tttest_7');
      expect(await rows(`SELECT * FROM pipes WHERE name IN ('tttest_7', 'nobody_here')`)).toEqual([
        { name: 'tttest_7', users: '2' },
        { name: 'nobody_here', users: '0' },
      ]);
      expect(await rows(`SELECT * FROM users_in_pipes WHERE name = 'tttest_7' ORDER BY user_id DESC`)).toEqual([
        { name: 'tttest_7', user_id: '6', user_uuid: 'Z'.repeat(32), user_agent: 'test-agent/1.0', ip: '127.0.0.1', origin: 'http://example.test', language: 'fr' },
        expect.objectContaining({ name: 'tttest_7', user_id: '0', user_uuid: 'Y'.repeat(32) }),
      ]);
      await subscribe(anonymous);
      expect(await rows(`SELECT users FROM pipes WHERE name = 'tttest_7'`)).toEqual([{ users: '1' }]);
      await expect(sql.query(`INSERT INTO pipes (name, users) VALUES ('x', 1)`)).rejects.toMatchObject({ errno: 10, sqlMessage: 'Table `pipes` is read only' });
      await expect(sql.query(`DELETE FROM users_in_pipes WHERE name = 'x'`)).rejects.toMatchObject({
        errno: 10,
        sqlMessage: 'Table `users_in_pipes` is read only',
      });
    });
  });

  describe('track_ pipes', () => {
    it('announce who subscribes and unsubscribes to the others, and list them', async () => {
      const first = await browser(7, 'F'.repeat(32));
      await subscribe(first, 'track_room');
      const second = await browser(8, 'S'.repeat(32));
      await subscribe(second, 'track_room', 'web_extra');
      expect((await first.next(onPipe('track_room', 'subscription'))).data).toEqual({ user_id: 8, uuid: 'S'.repeat(32) });
      // Subscribing again to the same pipes announces nothing, and nobody hears itself.
      await subscribe(second, 'track_room', 'web_extra', 'web_more');
      await settle();
      expect([...first.frames, ...second.frames].filter(onPipe('track_room'))).toEqual([]);

      await second.send('track_pipe_users\ntrack_room\nmk1');
      const list = await second.next((frame) => frame.marker === 'mk1');
      expect(list).toMatchObject({ pipe: '_answer', event: 'answer' });
      expect(list.data).toEqual(expect.arrayContaining([{ user_id: 7, uuid: 'F'.repeat(32) }, { user_id: 8, uuid: 'S'.repeat(32) }]));
      await second.send('pipe_count\ntrack_room\nmk2');
      expect(await second.next((frame) => frame.marker === 'mk2')).toMatchObject({ pipe: '_answer_pipe_count', data: { user_in_pipe: 2 } });

      await closeBrowser(second);
      expect((await first.next(onPipe('track_room', 'unsubscription'))).data).toEqual({ user_id: 8, uuid: 'S'.repeat(32) });
    });
  });

  describe('web_pipe2', () => {
    it('relays to the other subscribers with the sender id, and answers the sender', async () => {
      const sender = await browser(1);
      const otherTabOfSender = await browser(1);
      const receiver = await browser(2);
      for (const client of [sender, otherTabOfSender, receiver]) await subscribe(client, 'web_chat');
      await sender.send('web_pipe2\nweb_chat\nmessage\n*\n{"text":"hello\\nworld"}');
      for (const client of [otherTabOfSender, receiver]) {
        expect(await client.next(onPipe('web_chat', 'message'))).toMatchObject({ data: '{"text":"hello\\nworld"}', user_id: 1 });
      }
      expect(await sender.next(onPipe('_answer_to_web_chat'))).toMatchObject({
        event: 'answer',
        data: { number_messages: 2, message: '{"text":"hello\\nworld"}' },
      });
      expect(sender.frames.filter(onPipe('web_chat'))).toEqual([]);

      // `@` hides the sender; a message with newlines arrives whole.
      await sender.send('web_pipe2\n@web_chat\nmessage\n*\nline 1\nline 2');
      expect(await receiver.next(onPipe('web_chat'))).toMatchObject({ data: 'line 1\nline 2', user_id: 0 });
    });

    it('refuses pipes that are not web_, and webauth_ for anonymous senders', async () => {
      const anonymous = await browser(0);
      const user = await browser(3);
      const listener = await browser(4);
      await subscribe(listener, 'webauth_staff');
      await anonymous.send('web_pipe2\nplain_pipe\nmessage\n*\nx');
      expect(await anonymous.next('error')).toMatchObject({ pipe: 'sys', data: { number_messages: -1, error: expect.stringContaining('web_') } });
      await anonymous.send('web_pipe2\nwebauth_staff\nmessage\n*\nx');
      expect(await anonymous.next('error')).toMatchObject({ data: { error: '[web_pipe2] Only authorized users can send to webauth_ channels' } });
      await anonymous.send('web_pipe2\nweb_chat');
      expect(await anonymous.next('error')).toMatchObject({ data: { error: expect.stringContaining('Expected web_pipe2') } });
      await user.send('web_pipe2\nwebauth_staff\nmessage\n*\nfrom staff');
      expect(await listener.next(onPipe('webauth_staff'))).toMatchObject({ data: 'from staff', user_id: 3 });
      // History applies to web_ pipes too, with the sender's id.
      await ok(`INSERT INTO pipes_settings (name, length) VALUES ('web_logged', 10)`);
      await user.send('web_pipe2\nweb_logged\nmessage\n*\nremember me');
      await user.next(onPipe('_answer_to_web_logged'));
      expect(await rows(`SELECT message, user_id FROM pipes_messages WHERE name = 'web_logged'`)).toEqual([{ message: 'remember me', user_id: '3' }]);
    });
  });

  describe('users_data', () => {
    it('round-trips through INSERT, SELECT, user_data, UPDATE and DELETE', async () => {
      const data = JSON.stringify({ rand: String(Math.random()) });
      expect(await ok(`INSERT INTO users_data (id, data) VALUES ("9997", '${data}')`)).toMatchObject({ affectedRows: 1, insertId: 9997 });
      expect(await rows('SELECT * FROM users_data WHERE id = 9997')).toEqual([{ id: '9997', data }]);
      const tab = await browser(0);
      await tab.send('user_data\nmk3\n9997');
      expect(await tab.next((frame) => frame.marker === 'mk3')).toMatchObject({ pipe: '_answer', data: { user_data: data, user_id: 9997 } });
      await tab.send('user_data\nmk4\n99998');
      expect(await tab.next((frame) => frame.marker === 'mk4')).toMatchObject({ data: { user_data: '', user_id: 99998 } });
      expect((await ok(`UPDATE users_data SET data = 'new' WHERE id = 9997`)).affectedRows).toBe(1);
      expect(await rows('SELECT data FROM users_data WHERE id = 9997')).toEqual([{ data: 'new' }]);
      expect((await ok('DELETE FROM users_data WHERE id IN (9997, 9998)')).affectedRows).toBe(1);
      expect(await rows('SELECT * FROM users_data WHERE id = 9997')).toEqual([]);
      await expect(sql.query(`INSERT INTO users_data (id, data) VALUES (0, 'x')`)).rejects.toMatchObject({ errno: 12, sqlMessage: 'The id field must be non-negative' });
    });
  });

  describe('limits', () => {
    it('refuses more than 32 pipes and names over 64 characters, keeping the socket and its pipes', async () => {
      const client = await browser(0);
      await subscribe(client, 'web_keep');
      await subscribe(client, ...Array.from({ length: 33 }, (_, i) => `web_p${i}`));
      expect(await client.next('error')).toMatchObject({ pipe: 'sys', data: { error: 'Too many channels: at most 32 per connection' } });
      await subscribe(client, 'p'.repeat(65));
      expect(await client.next('error')).toMatchObject({ data: { error: 'Channel name is too long' } });
      expect(await rows(`SELECT users FROM pipes WHERE name = 'web_keep'`)).toEqual([{ users: '1' }]);
      await subscribe(client, ...Array.from({ length: 32 }, (_, i) => `web_p${i}`));
      expect(await rows(`SELECT users FROM pipes WHERE name IN ('web_p31', 'web_keep')`)).toEqual([{ users: '1' }, { users: '0' }]);
    });

    it('closes a socket that sends a frame over the message size (1009)', async () => {
      const client = await browser(0);
      const closed = once(client.ws, 'close');
      client.ws.send(`web_pipe2\nweb_chat\ne\n*\n${'x'.repeat(70 * 1024)}`);
      expect((await closed)[0]).toBe(1009);
    });

    it('throttles a socket that floods, then closes it (4004); others are not held up', async () => {
      const flooder = await browser(0);
      const bystander = await browser(0);
      await subscribe(bystander, 'web_flood');
      const closed = once(flooder.ws, 'close');
      for (let i = 0; i < 1000; i++) flooder.ws.send('web_pipe2\nweb_flood\ne\n*\nspam');
      expect((await closed)[0]).toBe(4004);
      expect(flooder.frames.some((frame) => frame.event === 'error' && (frame.data as { code?: string }).code === '429')).toBe(true);
      // Only what fitted in the burst got through.
      await settle();
      const relayed = bystander.frames.filter(onPipe('web_flood')).length;
      expect(relayed).toBeGreaterThan(0);
      expect(relayed).toBeLessThanOrEqual(250);
      await ok(`INSERT INTO pipes_messages (name, event, message) VALUES ('web_flood', 'after', 'still here')`);
      expect(await bystander.next(onPipe('web_flood', 'after'))).toMatchObject({ data: 'still here' });
    });

    it('drops the oldest pipe messages of a socket that stops reading, never its connection nor its personal messages; the others get them all', async () => {
      const droppedSoFar = async (): Promise<number> => {
        const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
        return Number(/^cometmcu_messages_dropped_total (\d+)/m.exec(metrics)?.[1]);
      };
      const droppedBefore = await droppedSoFar();
      const stalled = await browser(7);
      const reader = await browser(0);
      for (const client of [stalled, reader]) await subscribe(client, 'web_big');
      let closed = false;
      stalled.ws.on('close', () => (closed = true));
      // It stops reading: the kernel's socket buffers fill, then the server's.
      stalled.ws.pause();
      const count = 500; // 30 MB, far more than loopback's socket buffers hold
      const sequenceOf = (frame: Frame): number => Number(String(frame.data).slice(0, 3));
      for (let n = 0; n < count; n++) {
        await sql.query('INSERT INTO pipes_messages (name, event, message) VALUES (?, ?, ?)', ['web_big', 'tick', String(n).padStart(3, '0') + 'b'.repeat(60_000)]);
        // A personal message amid the flood is never one of those dropped.
        if (n === 250) await ok(`INSERT INTO users_messages (id, event, message) VALUES (7, 'personal', 'kept')`);
      }
      expect((await reader.take(onPipe('web_big'), count, 10_000)).map(sequenceOf)).toEqual([...Array(count).keys()]);
      stalled.ws.resume();
      const last = await Promise.race([
        stalled.next((frame) => frame.pipe === 'web_big' && sequenceOf(frame) === count - 1, 20_000),
        once(stalled.ws, 'close').then(([code]) => Promise.reject(new Error(`the stalled socket was closed (${String(code)})`))),
      ]);
      expect(last.event).toBe('tick');
      expect(await stalled.next('personal')).toMatchObject({ pipe: 'msg', data: 'kept' });
      expect(closed).toBe(false);
      // What came is in order, the newest of it all there: the oldest of what the server held went.
      const received = [...stalled.frames.filter(onPipe('web_big')).map(sequenceOf), count - 1];
      expect(received.length).toBeLessThan(count);
      expect(received).toEqual([...received].sort((a, b) => a - b));
      expect(received.slice(-10)).toEqual(Array.from({ length: 10 }, (_, i) => count - 10 + i));
      expect((await droppedSoFar()) - droppedBefore).toBe(count - received.length);
    }, 60_000);

    it('answers malformed commands with an error frame and keeps the socket', async () => {
      const client = await browser(0);
      for (const command of ['pipe_log\nbad name\nm', 'pipe_count\nplain_pipe\nm', 'track_pipe_users\nweb_x\nm', 'user_data\nm\nabc', 'pipe_log\nweb_x\nbad marker']) {
        await client.send(command);
        expect(await client.next('error')).toMatchObject({ pipe: 'sys', data: { error: expect.any(String) } });
      }
      await client.send('statistics\n{"url":"x"}');
      await subscribe(client, 'web_alive');
      expect(await rows(`SELECT users FROM pipes WHERE name = 'web_alive'`)).toEqual([{ users: '1' }]);
    });
  });
});
