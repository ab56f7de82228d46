import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { fromAddress as from } from './fromAddress.js';

const loginError = (server: TestServer, options: Parameters<typeof connect>[1]): Promise<{ errno?: number; sqlState?: string; message: string }> =>
  connect(server, options).then(
    async (client) => {
      await client.end();
      throw new Error('the login succeeded');
    },
    (error: { errno?: number; sqlState?: string; message: string }) => error,
  );

describe('CometQL login throttling', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('closes the address and the user after a few wrong passwords, refusing even the right one, and counts every failure', async () => {
    const guesser = '127.0.0.20';
    let failed = 0;
    let retrySeconds = 0;
    // Wrong passwords until the closing delay has grown to 2 s or more, waiting out the shorter ones on the way.
    for (let attempt = 0; attempt < 20 && retrySeconds < 2; attempt++) {
      const error = await loginError(server, { password: 'guess', ...from(server, guesser) });
      failed++;
      if (error.errno === 16) continue;
      expect(error).toMatchObject({ errno: 1045, sqlState: '28000', message: expect.stringMatching(/^Too many failed logins: retry in \d+ s$/) });
      retrySeconds = Number(/retry in (\d+) s/.exec(error.message)![1]);
      if (retrySeconds < 2) await sleep(retrySeconds * 1000);
    }
    expect(retrySeconds).toBeGreaterThanOrEqual(2);

    // The right password is refused too, from that address, and for root from anywhere.
    expect(await loginError(server, from(server, guesser))).toMatchObject({ errno: 1045 });
    expect(await loginError(server, from(server, '127.0.0.21'))).toMatchObject({ errno: 1045 });
    failed += 2;
    // Another user from another address is not held back.
    const other = await connect(server, { user: '5', ...from(server, '127.0.0.22') });
    await other.end();

    const metrics = await server.metrics.registry.getSingleMetricAsString('cometmcu_login_failures_total');
    expect(metrics).toContain(`cometmcu_login_failures_total{front="cometql"} ${failed}`);
  }, 30_000);

  it('keeps a backend that logged in open while a guesser elsewhere fails as its user', async () => {
    const backend = '127.0.0.40';
    await (await connect(server, { user: '9', ...from(server, backend) })).end();
    for (let attempt = 0; attempt < 6; attempt++) await loginError(server, { user: '9', password: 'guess', ...from(server, '127.0.0.41') });
    // The user is closed to everyone else…
    expect(await loginError(server, { user: '9', ...from(server, '127.0.0.42') })).toMatchObject({ errno: 1045 });
    // …but not to the address it logs in from.
    await (await connect(server, { user: '9', ...from(server, backend) })).end();
  });

  it('refuses a user name that is no dev_id without closing the address: there is no password to guess', async () => {
    const address = '127.0.0.30';
    for (let attempt = 0; attempt < 8; attempt++) {
      expect(await loginError(server, { user: 'admin', ...from(server, address) })).toMatchObject({ errno: 16, message: 'Invalid dev_id value' });
    }
    await (await connect(server, { user: '6', ...from(server, address) })).end();
  });
});
