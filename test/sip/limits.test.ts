/**
 * What one client may cost the SIP server: failed digests close the address and the user for a growing
 * while (and are counted), and a user holds a bounded number of sockets and registrations. Over a bound,
 * that one request is refused with a reason; nothing else is touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConferenceModel } from '../../src/conference/model.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { LoginThrottle } from '../../src/security/loginThrottle.js';
import type { SipServer } from '../../src/sip/sipServer.js';
import { RawSipClient, register } from './rawClient.js';
import { startSipServer } from './servers.js';
import { until } from './until.js';
import { WeriftMedia } from './weriftMedia.js';

const user = (userId: number): string => `000000${userId}`;
const contact = (instance: string): string => `<sip:${instance}@x.invalid;transport=ws>;reg-id=1;+sip.instance="<urn:uuid:${instance}>"`;

describe('SIP limits', () => {
  const media = new WeriftMedia();
  const http = new HttpServer(createLogger('silent'));
  /** The throttle's clock: a test moves it instead of waiting. */
  let clock = 1_000_000;
  let loginFailures = 0;
  let sip: SipServer;
  let port: number;
  const clients: RawSipClient[] = [];
  const connect = async (localAddress?: string, headers?: Record<string, string>): Promise<RawSipClient> => {
    const client = await RawSipClient.connect(port, localAddress, headers);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    let model: ConferenceModel;
    ({ port, model, sip } = await startSipServer(http, media, {
      maxSocketsPerUser: 2,
      maxRegistrationsPerUser: 2,
      // The shipped back-off (3 free failures, then 0.5 s doubling), on the test's clock.
      loginThrottle: new LoginThrottle({ now: () => clock }),
      onLoginFailure: () => loginFailures++,
    }));
    for (let userId = 1; userId <= 6; userId++) await model.setKey({ devId: 0, userId, hash: `key${userId}` });
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    await sip.close();
    await http.close();
    await media.close();
  });

  it('refuses digests unchecked, per address and per user, after repeated failures, until the back-off has passed', async () => {
    const guesser = await connect();
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect(await register(guesser, user(1), `guess${attempt}`, contact('a1'))).toMatchObject({ status: 403, reason: 'Forbidden' });
    }
    // Closed now: the right key is refused without being looked at, with the time to wait.
    const refused = await register(guesser, user(1), 'key1', contact('a1'));
    expect(refused).toMatchObject({ status: 403, reason: 'Too many failed logins' });
    expect(refused.headers.get('Retry-After')).toBe('1');
    // The address is closed for every user, and the user from every address.
    expect(await register(guesser, user(2), 'key2', contact('a2'))).toMatchObject({ status: 403, reason: 'Too many failed logins' });
    const elsewhere = await connect('127.0.0.2');
    expect(await register(elsewhere, user(1), 'key1', contact('b1'))).toMatchObject({ status: 403, reason: 'Too many failed logins' });
    expect((await register(elsewhere, user(2), 'key2', contact('b2'))).status).toBe(200);
    expect(loginFailures).toBe(7);

    clock += 500;
    expect((await register(guesser, user(1), 'key1', contact('a1'))).status).toBe(200);
    expect(sip.registrations(0, 1).map((binding) => binding.contact.uri.user)).toEqual(['a1']);
  });

  it('throttles, behind a proxy on this machine, the address the proxy forwarded, not the proxy', async () => {
    // Whatever the test before left closed is forgotten.
    clock += 3_600_000;
    const proxied = (address: string) => connect(undefined, { 'X-Forwarded-For': `10.0.0.1, ${address}` });
    const guesser = await proxied('198.51.100.1');
    for (let attempt = 1; attempt <= 4; attempt++) expect((await register(guesser, user(5), `guess${attempt}`, contact('p1'))).status).toBe(403);
    expect(await register(guesser, user(6), 'key6', contact('p1'))).toMatchObject({ status: 403, reason: 'Too many failed logins' });
    // Another browser behind the same proxy is not locked out with the guesser.
    expect((await register(await proxied('198.51.100.2'), user(6), 'key6', contact('p2'))).status).toBe(200);
    clock += 3_600_000;
  });

  it('refuses a user a socket beyond [sip] max_sockets_per_user, and takes one again when another closes', async () => {
    const [first, second, third] = [await connect(), await connect(), await connect()];
    expect((await register(first, user(3), 'key3', contact('s1'))).status).toBe(200);
    expect((await register(second, user(3), 'key3', contact('s2'))).status).toBe(200);
    expect(await register(third, user(3), 'key3', contact('s3'))).toMatchObject({ status: 403, reason: 'Too many SIP sockets for this user (2)' });
    // Another user is not concerned.
    expect((await register(third, user(2), 'key2', contact('s3'))).status).toBe(200);
    await first.close();
    await until(() => sip.registrations(0, 3).length === 1);
    expect((await register(third, user(3), 'key3', contact('s3'))).status).toBe(200);
    expect(sip.registrations(0, 3).map((binding) => binding.contact.uri.user)).toEqual(['s2', 's3']);
  });

  it('refuses a registration beyond [sip] max_registrations_per_user, leaving the others as they were', async () => {
    const client = await connect();
    expect((await register(client, user(4), 'key4', contact('r1'))).status).toBe(200);
    expect((await register(client, user(4), 'key4', contact('r2'))).status).toBe(200);
    expect(await register(client, user(4), 'key4', contact('r3'))).toMatchObject({ status: 403, reason: 'Too many registrations for this user (2)' });
    expect(sip.registrations(0, 4).map((binding) => binding.contact.uri.user)).toEqual(['r1', 'r2']);
    expect((await register(client, user(4), 'key4', `${contact('r1')};expires=0`)).status).toBe(200);
    expect((await register(client, user(4), 'key4', contact('r3'))).status).toBe(200);
    expect(sip.registrations(0, 4).map((binding) => binding.contact.uri.user)).toEqual(['r2', 'r3']);
  });
});
