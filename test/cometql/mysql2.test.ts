import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { connect, PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

describe('mysql2 against CometQL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('serves a pool of connections running queries with placeholders', async () => {
    const pool = mysql.createPool({ host: '127.0.0.1', port: server.cometqlPort, user: 'root', password: PASSWORD, connectionLimit: 4 });
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          pool.query('INSERT INTO users_auth (id, hash) VALUES (?, ?)', [100 + i, `hash${i}`]),
        ),
      );
      const [rows] = await pool.query('SELECT id, hash FROM users_auth WHERE id IN (?) ORDER BY id DESC LIMIT 3', [[100, 105, 119, 300]]);
      expect(rows).toEqual([
        { id: '119', hash: 'hash19' },
        { id: '105', hash: 'hash5' },
        { id: '100', hash: 'hash0' },
      ]);
    } finally {
      await pool.end();
    }
  });

  it('runs several statements in one query when the client allows it', async () => {
    const client = await connect(server, { multipleStatements: true });
    try {
      const [results] = await client.query(
        "INSERT INTO conference (name, user_id, message) VALUES ('multi', 1, 'a'); INSERT INTO conference (name, user_id, message) VALUES ('multi', 2, 'b'); SELECT user_id FROM conference WHERE name = 'multi'",
      );
      const list = results as unknown[];
      expect(list).toHaveLength(3);
      expect(list[0]).toMatchObject({ affectedRows: 1 });
      expect(list[2]).toEqual([{ user_id: '1' }, { user_id: '2' }]);
    } finally {
      await client.end();
    }
  });

  it('refuses several statements from a client that did not ask for them', async () => {
    const client = await connect(server);
    try {
      await expect(client.query("SELECT 1; SELECT 2")).rejects.toMatchObject({ errno: 3, sqlState: '42000' });
      // Refused before any statement is parsed: the second one, too complex to parse, is never looked at.
      const deep = `SELECT * FROM users_auth WHERE ${'('.repeat(40)}id = 1${')'.repeat(40)}`;
      await expect(client.query(deep)).rejects.toMatchObject({ errno: 11 });
      await expect(client.query(`SELECT 1; ${deep}`)).rejects.toMatchObject({ errno: 3, sqlState: '42000' });
      expect(await client.query('SELECT 2 AS two').then(([rows]) => rows)).toEqual([{ two: '2' }]);
    } finally {
      await client.end();
    }
  });

  it('answers prepared statements with a clear error instead of hanging', async () => {
    const client = await connect(server);
    try {
      await expect(client.execute('SELECT * FROM conference WHERE name = ?', ['101'])).rejects.toMatchObject({
        errno: 2,
        message: expect.stringContaining('Prepared statements are not supported'),
      });
      await client.ping();
      expect((await client.query('SELECT DATABASE() AS db'))[0]).toEqual([{ db: 'CometQL_v1' }]);
    } finally {
      await client.end();
    }
  });

  it('reports real affected-row counts for DELETE and UPDATE', async () => {
    const client = await connect(server);
    try {
      for (const userId of [1, 2, 3]) {
        await client.query("INSERT INTO conference (name, user_id, message, profile) VALUES ('rows', ?, '{}', 'video')", [userId]);
        await server.model.join({ devId: 0, room: 'rows', userId, profile: 'video' });
      }
      const [update] = await client.query("UPDATE conference_members SET audio = 0 WHERE name = 'rows' AND user_id IN (1, 2)");
      expect(update).toMatchObject({ affectedRows: 2 });
      const members = await server.model.findMembers(0, { rooms: ['rows'] });
      expect(members.map((m) => [m.userId, m.controls.audio])).toEqual([[1, false], [2, false], [3, true]]);

      const [deleted] = await client.query("DELETE FROM conference WHERE name = 'rows' AND user_id = 2");
      expect(deleted).toMatchObject({ affectedRows: 1 });
      // Withdrawing the invitation also hangs the user up (CppComet kicked nobody).
      expect((await server.model.findMembers(0, { rooms: ['rows'] })).map((m) => m.userId)).toEqual([1, 3]);
      const [none] = await client.query("DELETE FROM conference WHERE name = 'rows' AND user_id = 99");
      expect(none).toMatchObject({ affectedRows: 0 });
    } finally {
      await client.end();
    }
  });

  it('sets controls with INSERT before a user joins, and with UPDATE after', async () => {
    const client = await connect(server);
    try {
      await client.query("INSERT INTO conference (name, user_id, message) VALUES ('ctl', 8, '{}')");
      await client.query("INSERT INTO conference_members (name, user_id, audio, layout) VALUES ('ctl', 8, 0, 'speaker')");
      const member = await server.model.join({ devId: 0, room: 'ctl', userId: 8, profile: 'default' });
      expect(member.controls).toMatchObject({ audio: false, layout: 'speaker' });

      const changes: string[][] = [];
      server.model.on('memberChanged', (_m, changed) => changes.push([...changed]));
      await client.query("UPDATE conference_members SET video = 0, watch = '3,1' WHERE name = 'ctl' AND user_id = 8");
      expect(changes).toEqual([['video', 'watch']]);
      const [rows] = await client.query("SELECT user_id, audio, video, layout, watch FROM conference_members WHERE name = 'ctl'");
      expect(rows).toEqual([{ user_id: '8', audio: '0', video: '0', layout: 'speaker', watch: '3,1' }]);

      await expect(client.query("UPDATE conference_members SET talking = 1 WHERE name = 'ctl'")).rejects.toMatchObject({ errno: 10 });
      await expect(client.query("UPDATE conference_members SET layout = 'mosaic' WHERE name = 'ctl'")).rejects.toMatchObject({ errno: 12 });
      const [kicked] = await client.query("DELETE FROM conference_members WHERE name = 'ctl' AND user_id = 8");
      expect(kicked).toMatchObject({ affectedRows: 1 });
    } finally {
      await client.end();
    }
  });

  it('scopes everything by dev_id: the user name, or db_<N>', async () => {
    const tenant5 = await connect(server, { user: '5', database: undefined });
    const viaDb = await connect(server, { database: 'db_5' });
    const root = await connect(server);
    try {
      await tenant5.query("INSERT INTO conference (name, user_id, message) VALUES ('t5', 1, 'x')");
      expect((await viaDb.query("SELECT user_id FROM conference WHERE name = 't5'"))[0]).toEqual([{ user_id: '1' }]);
      expect((await root.query("SELECT user_id FROM conference WHERE name = 't5'"))[0]).toEqual([]);
      await expect(connect(server, { database: 'wordpress' })).rejects.toMatchObject({ errno: 15, message: 'Select database failure' });
      await expect(connect(server, { user: 'admin' })).rejects.toMatchObject({ errno: 16 });
    } finally {
      await Promise.all([tenant5.end(), viaDb.end(), root.end()]);
    }
  });

  it('validates values with CppComet messages', async () => {
    const client = await connect(server);
    try {
      const cases: [string, number, string][] = [
        ["INSERT INTO users_auth (id, hash) VALUES (0, 'abc')", 12, 'The id field must be non-negative'],
        ["INSERT INTO users_auth (id, hash) VALUES (1, 'a b')", 12, 'Contains an invalid characters in the string hash'],
        [`INSERT INTO users_auth (id, hash) VALUES (1, '${'a'.repeat(33)}')`, 11, 'Hash string is too long'],
        ["INSERT INTO users_auth (id, hash) VALUES (1, 'abc')", 17, 'Hash string is too short: at least 4 characters'],
        ["UPDATE users_auth SET hash = 'k' WHERE id = 1", 17, 'Hash string is too short: at least 4 characters'],
        ["INSERT INTO users_auth (id) VALUES (1)", 12, 'field `hash` is required'],
        ["INSERT INTO users_auth VALUES (1)", 14, 'Error in columns list'],
        ["INSERT INTO users_auth (id, id) VALUES (1, 2)", 13, 'Each column in the insert used only once'],
        ["INSERT INTO conference (name, user_id, message, profile) VALUES ('r', 1, 'm', 'nope')", 12, 'The profile "nope" does not exist'],
        ["INSERT INTO conference (name, user_id, message) VALUES ('bad room!', 1, 'm')", 12, 'The name field can contain only the characters A-Za-z0-9_-'],
        ["SELECT * FROM users_auth WHERE id = 1 OR id = 2", 2, 'Operator OR is not yet implemented'],
        ["SELECT * FROM users_auth WHERE id > 1", 2, 'Operator > is not yet implemented'],
        ["SELECT id, id FROM users_auth WHERE id = 1", 13, 'Each column in the select used only once'],
        ["DELETE FROM conference WHERE user_id = 1", 13, 'Deleting without transferring the requested values of the primary key is not supported'],
        ["DROP TABLE conference", 2, 'Command DROP is not yet implemented'],
      ];
      for (const [sql, errno, message] of cases) {
        await expect(client.query(sql), sql).rejects.toMatchObject({ errno, message });
      }
    } finally {
      await client.end();
    }
  });

  it('answers the session statements connectors send', async () => {
    const client = await connect(server);
    try {
      await client.query('SET NAMES utf8mb4');
      await client.query('SET autocommit=1');
      await client.query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'");
      const [[variables]] = (await client.query('SELECT @@version_comment, @@session.autocommit AS ac, CONNECTION_ID() AS id LIMIT 1')) as unknown as [Record<string, string>[]];
      expect(variables!['@@version_comment']).toMatch(/^cometmcu /);
      expect(variables!.ac).toBe('1');
      expect(Number(variables!.id)).toBeGreaterThan(0);
      expect((await client.query('SHOW DATABASES'))[0]).toEqual([{ Database: 'CometQL_v1' }]);
      expect((await client.query("SHOW VARIABLES LIKE 'lower_case%'"))[0]).toEqual([{ Variable_name: 'lower_case_table_names', Value: '0' }]);
      const [columns] = await client.query('SHOW COLUMNS FROM conference_members');
      expect((columns as { Field: string }[]).map((c) => c.Field)).toEqual([
        'name', 'user_id', 'join_time', 'last_talking', 'audio', 'video', 'deaf', 'talking', 'layout', 'watch', 'viewer', 'profile',
      ]);
      await client.query('USE db_3');
      expect((await client.query('SELECT DATABASE() AS db'))[0]).toEqual([{ db: 'db_3' }]);
    } finally {
      await client.end();
    }
  });
});
