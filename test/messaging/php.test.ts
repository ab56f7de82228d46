import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Connection } from 'mysql2/promise';
import { connect, runPhp, startTestServer, type TestServer } from '../helpers/server.js';
import { cometClient, type CometTestClient } from '../gateway/cometClient.js';

const script = fileURLToPath(new URL('./php/messaging.php', import.meta.url));

/** The messaging tables from PHP mysqli, the client CppComet applications use. */
describe('messaging from PHP mysqli', () => {
  let server: TestServer;
  let sql: Connection;
  let online: CometTestClient;
  const run = async (...args: string[]): Promise<unknown[]> => {
    const result = await runPhp(script, args, server);
    expect(result.stderr).toBe('');
    return result.stdout.trim().split('\n').map((line) => JSON.parse(line));
  };

  beforeAll(async () => {
    server = await startTestServer();
    sql = await connect(server);
    await sql.query(`INSERT INTO users_auth (id, hash) VALUES (3, 'key3')`);
    online = await cometClient(server, 3, 'key3');
    await online.next('serverInfo');
  });
  afterAll(async () => {
    online.ws.terminate();
    await sql.end();
    await server.close();
  });

  it('users_messages for an offline user: INSERT 1 row, SELECT 1, DELETE 1, SELECT 0', async () => {
    const [inserted, queued, deleted, after] = await run('users-messages');
    expect(inserted).toBe(1);
    expect(queued).toEqual([{ id: '99955', index: expect.stringMatching(/^[0-9a-f-]{36}$/), event: 'test1_users_messages', message: '{"rand":"it\'s \\"0.5\\""}' }]);
    expect(deleted).toBe(1);
    expect(after).toEqual([]);
  });

  it('users_time: online 0, unknown -1, three rows for three ids', async () => {
    const [rows] = await run('users-time');
    expect(rows).toEqual([
      { id: '1', time: '-1' },
      { id: '3', time: '0' },
      { id: '99996', time: '-1' },
    ]);
  });

  it('users_data round trip', async () => {
    const [inserted, rows] = await run('users-data');
    expect(inserted).toBe(1);
    expect(rows).toEqual([{ id: '9997', data: '{"rand":"0.25"}' }]);
  });

  it('pipes_settings length 2 keeps the last two messages', async () => {
    const [inserted, history, settings] = await run('history');
    expect(inserted).toBe(1);
    expect(history).toEqual([
      { name: 'test_pipelog', event: 'e1', message: 'two' },
      { name: 'test_pipelog', event: 'e1', message: 'three' },
    ]);
    expect(settings).toEqual([{ name: 'test_pipelog', length: '2' }]);
  });

  it('an INSERT INTO pipes_messages reaches a subscribed browser', async () => {
    await online.send('subscription\nweb_news');
    expect(await run('publish', 'web_news', 'headline', '{"title":"O\'Reilly"}')).toEqual([1]);
    expect(await online.next('headline')).toMatchObject({ pipe: 'web_news', data: '{"title":"O\'Reilly"}' });
  });
});
