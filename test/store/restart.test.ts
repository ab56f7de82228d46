import mysql from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { cometClient } from '../gateway/cometClient.js';
import { useMariaDB } from './database.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

const mariadb = useMariaDB();

describe('a server on the MySQL store', () => {
  let servers: TestServer[] = [];
  const start = async () => {
    const server = await startTestServer(mariadb().storeEnv);
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    for (const server of servers) await server.close();
    servers = [];
  });

  it('keeps what CometQL wrote through a restart: keys, queued messages, histories, data, invitations', async () => {
    await mariadb().empty();
    const first = await start();
    const before = await connect(first);
    for (const sql of [
      "INSERT INTO users_auth (id, hash) VALUES (7, 'Key7secret')",
      "INSERT INTO users_messages (id, event, message) VALUES (7, 'news', 'while you were away')",
      "INSERT INTO pipes_settings (name, length) VALUES ('web_log', 10)",
      "INSERT INTO pipes_messages (name, event, message) VALUES ('web_log', 'said', 'kept 😀')",
      "INSERT INTO users_data (id, data) VALUES (7, '{\"nick\":\"seven\"}')",
      "INSERT INTO conference (name, user_id, caller_id, message, profile) VALUES ('101', 7, 3, 'join us', 'video')",
      "INSERT INTO conference_broadcast (name, hls) VALUES ('101', 1)",
    ]) {
      await before.query(sql);
    }
    await before.end();
    await first.close();
    servers = [];

    const second = await start();
    const after = await connect(second);
    const rows = async (sql: string) => (await after.query<mysql.RowDataPacket[]>(sql))[0];
    expect(await rows('SELECT id, hash FROM users_auth WHERE id = 7')).toEqual([{ id: '7', hash: 'Key7secret' }]);
    // The invitation waited too, as a sys_sipCall for the offline user.
    expect(await rows('SELECT id, event, message FROM users_messages WHERE id = 7')).toEqual([
      { id: '7', event: 'news', message: 'while you were away' },
      { id: '7', event: 'sys_sipCall', message: expect.stringContaining('"message":"join us"') },
    ]);
    expect(await rows("SELECT name, event, message FROM pipes_messages WHERE name = 'web_log'")).toEqual([
      { name: 'web_log', event: 'said', message: 'kept 😀' },
    ]);
    expect(await rows("SELECT name, length FROM pipes_settings WHERE name = 'web_log'")).toEqual([{ name: 'web_log', length: '10' }]);
    expect(await rows('SELECT id, data FROM users_data WHERE id = 7')).toEqual([{ id: '7', data: '{"nick":"seven"}' }]);
    expect(await rows("SELECT name, user_id, caller_id, message, profile FROM conference WHERE name = '101'")).toEqual([
      { name: '101', user_id: '7', caller_id: '3', message: 'join us', profile: 'video' },
    ]);
    expect(await rows("SELECT name, hls, own FROM conference_broadcast WHERE name = '101'")).toEqual([{ name: '101', hls: '1', own: '1' }]);

    // The browser logs in with the key the first server was given and gets the message that waited for it.
    const browser = await cometClient(second, 7, 'Key7secret');
    expect((await browser.next('serverInfo')).authorized).toBe(true);
    expect(await browser.next('news')).toMatchObject({ data: 'while you were away', fromQueue: true });
    expect(await browser.next('sys_sipCall')).toMatchObject({ fromQueue: true });
    browser.ws.close();
    expect(await rows('SELECT id FROM users_messages WHERE id = 7')).toEqual([]);
    await after.end();
  });

  it('keeps tenants through a restart, each password only as MySQL keeps one', async () => {
    await mariadb().empty();
    const first = await start();
    const root = await connect(first);
    await root.query("INSERT INTO tenants (dev_id, password) VALUES (5, 'tenant-five-secret')");
    await root.end();
    await first.close();
    servers = [];

    // The row holds what MariaDB's own PASSWORD() makes of it: SHA1(SHA1(password)), never the password.
    const direct = await mysql.createConnection(mariadb().account);
    const [[row]] = await direct.query<mysql.RowDataPacket[]>('SELECT password_hash, PASSWORD(?) AS mariadb FROM tenants WHERE dev_id = 5', [
      'tenant-five-secret',
    ]);
    await direct.end();
    expect(row).toEqual({ password_hash: expect.stringMatching(/^\*[0-9A-F]{40}$/), mariadb: row!.password_hash });

    const second = await start();
    await expect(connect(second, { user: '5' })).rejects.toMatchObject({ errno: 16 });
    await (await connect(second, { user: '5', password: 'tenant-five-secret' })).end();
  });

  it('answers an ERR while the database is away, keeps the connection and the process, and recovers', async () => {
    await mariadb().empty();
    const server = await start();
    const client = await connect(server);
    await client.query("INSERT INTO users_auth (id, hash) VALUES (1, 'before')");

    await mariadb().stop();
    await expect(client.query("INSERT INTO users_auth (id, hash) VALUES (2, 'during')")).rejects.toMatchObject({
      errno: 500,
      sqlState: 'HY000',
      message: expect.stringMatching(/^Storage unavailable: the MySQL store does not answer/),
    });
    await expect(client.query('SELECT * FROM users_messages WHERE id = 1')).rejects.toMatchObject({ errno: 500 });
    // Members live in memory: what does not need the database still works, on the same connection.
    expect((await client.query<mysql.RowDataPacket[]>('SELECT * FROM conference_members'))[0]).toEqual([]);
    // A browser that comes now is turned away, and the server goes on.
    const browser = await cometClient(server, 1, 'before');
    await new Promise((resolve) => browser.ws.once('close', resolve));
    // Monitoring still answers: /info says 503 to health checks, /metrics says the store is down.
    const info = await fetch(`http://127.0.0.1:${server.httpPort}/info`);
    expect(info.status).toBe(503);
    expect(await info.json()).toMatchObject({ status: 'store unavailable', members: 0 });
    const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^cometmcu_store_up 0$/m);

    await mariadb().start();
    // A database that hangs: monitoring answers within its patience (2 s) all the same.
    await client.query('SELECT * FROM users_auth WHERE id = 1');
    await mariadb().freeze(true);
    try {
      const asked = performance.now();
      const frozen = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
      expect(await frozen.text()).toMatch(/^cometmcu_store_up 0$/m);
      expect(performance.now() - asked).toBeLessThan(4000);
    } finally {
      await mariadb().freeze(false);
    }
    await client.query("INSERT INTO users_auth (id, hash) VALUES (2, 'after')");
    expect((await client.query<mysql.RowDataPacket[]>('SELECT id, hash FROM users_auth WHERE id IN (1, 2)'))[0]).toEqual([
      { id: '1', hash: 'before' },
      { id: '2', hash: 'after' },
    ]);
    await client.end();
  });

  it('does not start when the database does not answer, with one line that names it and not the password', async () => {
    const { storeEnv } = mariadb();
    await expect(startTestServer({ ...storeEnv, COMET_STORE_MYSQL_PORT: '1' })).rejects.toThrow(
      /^cannot open the MySQL store cometmcu@127\.0\.0\.1:1\/cometmcu: connect ECONNREFUSED/,
    );
    const wrong = startTestServer({ ...storeEnv, COMET_STORE_MYSQL_PASSWORD: 'not-the-password' });
    await expect(wrong).rejects.toThrow(/^cannot open the MySQL store .*Access denied/);
    await expect(wrong).rejects.not.toThrow(/not-the-password|store-test-password/);
  });
});
