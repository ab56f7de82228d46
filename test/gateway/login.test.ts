import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { cometClient, type Frame } from './cometClient.js';

describe('comet logins with wrong keys', () => {
  let server: TestServer;
  let sql: Connection;
  /** serverInfo of a browser of `userId` with `key`, coming from `address` (through a proxy on loopback). */
  const login = async (userId: number, key: string, address: string): Promise<Frame> => {
    const client = await cometClient(server, userId, key, { headers: { 'X-Forwarded-For': address } });
    const serverInfo = await client.next('serverInfo');
    client.ws.close();
    return serverInfo;
  };
  const failuresCounted = async (): Promise<number> => {
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    return Number(/^cometmcu_login_failures_total\{front="comet"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  };

  beforeAll(async () => {
    server = await startTestServer();
    sql = await connect(server);
    await sql.query("INSERT INTO users_auth (id, hash) VALUES (1, 'Key1secret'), (2, 'Key2secret')");
  });
  afterAll(async () => {
    await sql.end();
    await server.close();
  });

  it('are throttled per address and per user: past a few, even the right key is not looked at for a while', async () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const guess = async (n: number) => expect(await login(1, `guess${n}`, '198.51.100.7')).toMatchObject({ authorized: false });
    // Three free failures, then each one closes the door twice as long: 0.5 s, 1 s, 2 s.
    for (let n = 0; n < 4; n++) await guess(n);
    await sleep(600);
    await guess(4);
    await sleep(1100);
    await guess(5);
    // The right key, too soon: refused without being checked, and told when to come back. The address is
    // held back for every user, the user from every address; another user from another address is not.
    const [refused, sameAddress, sameUser, other] = await Promise.all([
      login(1, 'Key1secret', '198.51.100.7'),
      login(2, 'Key2secret', '198.51.100.7'),
      login(1, 'Key1secret', '198.51.100.8'),
      login(2, 'Key2secret', '198.51.100.8'),
    ]);
    expect(refused).toMatchObject({ authorized: false, retry_after: expect.toBeOneOf([1, 2]) });
    expect([sameAddress, sameUser, other].map((info) => info.authorized)).toEqual([false, false, true]);
    // No key is no failure.
    expect(await login(0, '', '198.51.100.7')).toMatchObject({ authorized: false });
    expect(await failuresCounted()).toBe(9);

    await sleep(2100);
    expect(await login(1, 'Key1secret', '198.51.100.7')).toMatchObject({ authorized: true });
    expect(await failuresCounted()).toBe(9);
  });
});
