import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMariadbCli, startTestServer, type TestServer } from '../helpers/server.js';

describe('the mariadb command-line client', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('lists every table', async () => {
    expect(await runMariadbCli(server, 'SHOW TABLES')).toBe('Tables\nusers_auth\nusers_time\nusers_messages\npipes_messages\nusers_in_pipes\npipes\npipes_settings\nusers_data\nconference\nconference_members\nconference_broadcast\ntenants\n');
  });

  it('describes conference', async () => {
    const out = await runMariadbCli(server, 'DESCRIBE conference');
    expect(out.split('\n').slice(0, 3)).toEqual([
      'Field\tType\tNull\tKey\tDefault\tExtra',
      'name\tvarchar(64)\tNO\tPRI\t\t',
      'user_id\tint(11)\tNO\tPRI\t\t',
    ]);
    expect(out).toContain('stream\ttinyint(1)');
  });

  it('prints a SELECT as a table, with several statements in one call', async () => {
    const out = await runMariadbCli(
      server,
      "INSERT INTO conference (name, user_id, caller_id, message, profile) VALUES ('cli', 42, 1, 'hello', 'video'); SELECT name, user_id, message FROM conference WHERE name = 'cli'",
      ['--table'],
    );
    expect(out).toBe(
      [
        '+------+---------+---------+',
        '| name | user_id | message |',
        '+------+---------+---------+',
        '| cli  | 42      | hello   |',
        '+------+---------+---------+',
        '',
      ].join('\n'),
    );
  });

  it('shows errors with their codes and exits non-zero', async () => {
    await expect(runMariadbCli(server, 'SELECT * FROM nowhere')).rejects.toMatchObject({
      stderr: expect.stringContaining("ERROR 15 (HY000) at line 1: Table doesn't exist"),
    });
  });
});
