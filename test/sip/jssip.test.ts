/**
 * The real JsSIP 3 user agent against the server: registration, authentication, revocation, and a call
 * put out with BYE.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import JsSIP from 'jssip';
import type { EndEvent } from 'jssip/lib/RTCSession.js';
import type { UnRegisteredEvent } from 'jssip/lib/UA.js';
import { call, registered, stopped, userAgent } from './jssipUa.js';
import { useJsSipServer } from './servers.js';
import { until } from './until.js';
import { WeriftMedia } from './weriftMedia.js';

describe('JsSIP 3 against /sip', () => {
  const media = new WeriftMedia();
  const live = useJsSipServer(media);

  beforeAll(async () => {
    await live.sql.query("INSERT INTO users_auth (id, hash) VALUES (1, 'key1'), (2, 'key2'), (3, 'key3'), (4, 'key4')");
  });

  it('registers with the users_auth key and unregisters', async () => {
    const ua = userAgent(live.server.httpPort, 1, 'key1');
    await registered(ua);
    const [binding] = live.server.sip?.registrations(0, 1) ?? [];
    expect(binding?.contact.params.get('+sip.instance')).toMatch(/^"<urn:uuid:[0-9a-f-]{36}>"$/);
    const unregistered = once(ua, 'unregistered');
    ua.unregister();
    await unregistered;
    expect(live.server.sip?.registrations(0, 1)).toEqual([]);
    await stopped(ua);
  });

  it('fails to register with a wrong key: 403 after the challenge', async () => {
    const ua = userAgent(live.server.httpPort, 2, 'not-the-key');
    const failed = once(ua, 'registrationFailed') as Promise<[UnRegisteredEvent]>;
    ua.start();
    const [event] = await failed;
    expect(event.response.status_code).toBe(403);
    expect(event.cause).toBe(JsSIP.C.causes.REJECTED);
    expect(live.server.sip?.registrations(0, 2)).toEqual([]);
    await stopped(ua);
  });

  it('drops the registration and closes the socket when the key is deleted over CometQL', async () => {
    const ua = userAgent(live.server.httpPort, 3, 'key3');
    await registered(ua);
    const disconnected = once(ua, 'disconnected') as Promise<[{ code?: number }]>;
    await live.sql.query('DELETE FROM users_auth WHERE id = 3');
    const [event] = await disconnected;
    expect(event.code).toBe(4001);
    expect(live.server.sip?.registrations(0, 3)).toEqual([]);
    ua.stop();
  });

  it('calls into a conference, is put out with a BYE carrying the reason, calls again and hangs up', async () => {
    await live.sql.query("INSERT INTO conference (name, user_id, caller_id, message, profile) VALUES ('101', 4, 4, '{}', 'video')");
    const ua = userAgent(live.server.httpPort, 4, 'key4');
    await registered(ua);
    const members = () => live.server.model.findMembers(0, { rooms: ['101'], userIds: [4] });

    const first = call(ua, '0*101*video');
    await once(first, 'confirmed');
    expect(await members()).toHaveLength(1);
    const ended = once(first, 'ended') as Promise<[EndEvent]>;
    await live.sql.query("DELETE FROM conference_members WHERE name = '101' AND user_id = 4");
    const [end] = await ended;
    expect(end.originator).toBe('remote');
    expect(end.message.getHeader('Reason')).toBe('Q.850;cause=16;text="kicked"');

    const second = call(ua, '0*101*video');
    await once(second, 'confirmed');
    expect(await members()).toHaveLength(1);
    const hungUp = once(second, 'ended');
    second.terminate();
    await hungUp;
    await until(async () => (await members()).length === 0);
    expect(media.peers.size).toBe(0);
    await stopped(ua);
  });
});
