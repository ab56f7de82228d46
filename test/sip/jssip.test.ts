/**
 * The real JsSIP 3 user agent, the one the browser library bundles, running in Node against the server:
 * WebSocket from `ws`, and for calls werift's RTCPeerConnection where a browser would have its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import JsSIP from 'jssip';
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession.js';
import type { UnRegisteredEvent } from 'jssip/lib/UA.js';
import type { Connection } from 'mysql2/promise';
import { RTCPeerConnection } from 'werift';
import WebSocket from 'ws';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { WeriftMedia } from './weriftMedia.js';

/** What JsSIP reaches for in a browser. */
function installBrowserGlobals(): void {
  Object.assign(globalThis, {
    WebSocket,
    window: globalThis,
    // JsSIP passes browser-style RTCConfiguration; loopback needs no ICE servers.
    RTCPeerConnection: class extends RTCPeerConnection {
      constructor() {
        super({ iceServers: [] });
      }
    },
    // werift's own class takes other constructor arguments than the browser's { type, sdp }.
    RTCSessionDescription: class {
      readonly type: string;
      readonly sdp: string;
      constructor(init: { type: string; sdp: string }) {
        this.type = init.type;
        this.sdp = init.sdp;
      }
    },
  });
}

/** A UA configured as CppComet's cometVideoApi.js configures it. */
function userAgent(server: TestServer, userId: number, password: string): JsSIP.UA {
  const user = `000000${userId}`;
  return new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(`ws://127.0.0.1:${server.httpPort}/sip`)],
    uri: `sip:${user}@localhost`,
    password,
    authorization_user: user,
    display_name: user,
    registrar_server: 'sip:localhost',
    realm: 'localhost',
    session_timers: false,
    use_preloaded_route: false,
  });
}

async function registered(ua: JsSIP.UA): Promise<void> {
  const outcome = Promise.race([once(ua, 'registered').then(() => 'registered'), once(ua, 'registrationFailed').then(() => 'failed')]);
  ua.start();
  expect(await outcome).toBe('registered');
}

async function stopped(ua: JsSIP.UA): Promise<void> {
  const disconnected = ua.isConnected() ? once(ua, 'disconnected') : Promise.resolve();
  ua.stop();
  await disconnected;
}

/** Places a call as cometVideoApi does after `registered`; the werift peer offers audio and video. */
function call(ua: JsSIP.UA, destination: string): RTCSession {
  return ua.call(`sip:${destination}@localhost`, {
    mediaConstraints: { audio: false, video: false },
    rtcOfferConstraints: {},
    eventHandlers: {
      peerconnection: (event) => {
        // JsSIP's types name the browser's class; here the global is werift's.
        const peer = event.peerconnection as unknown as RTCPeerConnection;
        peer.addTransceiver('audio', { direction: 'sendrecv' });
        peer.addTransceiver('video', { direction: 'sendrecv' });
      },
    },
  });
}

describe('JsSIP 3 against /sip', () => {
  let server: TestServer;
  let sql: Connection;
  const media = new WeriftMedia();

  beforeAll(async () => {
    installBrowserGlobals();
    server = await startTestServer({}, media);
    sql = await connect(server);
    await sql.query("INSERT INTO users_auth (id, hash) VALUES (1, 'key1'), (2, 'key2'), (3, 'key3'), (4, 'key4')");
  });
  afterAll(async () => {
    await sql.end();
    await server.close();
    await media.close();
  });

  it('registers with the users_auth key and unregisters', async () => {
    const ua = userAgent(server, 1, 'key1');
    await registered(ua);
    const [binding] = server.sip?.registrations(0, 1) ?? [];
    expect(binding?.contact.params.get('+sip.instance')).toMatch(/^"<urn:uuid:[0-9a-f-]{36}>"$/);
    const unregistered = once(ua, 'unregistered');
    ua.unregister();
    await unregistered;
    expect(server.sip?.registrations(0, 1)).toEqual([]);
    await stopped(ua);
  });

  it('fails to register with a wrong key: 403 after the challenge', async () => {
    const ua = userAgent(server, 2, 'not-the-key');
    const failed = once(ua, 'registrationFailed') as Promise<[UnRegisteredEvent]>;
    ua.start();
    const [event] = await failed;
    expect(event.response.status_code).toBe(403);
    expect(event.cause).toBe(JsSIP.C.causes.REJECTED);
    expect(server.sip?.registrations(0, 2)).toEqual([]);
    await stopped(ua);
  });

  it('drops the registration and closes the socket when the key is deleted over CometQL', async () => {
    const ua = userAgent(server, 3, 'key3');
    await registered(ua);
    const disconnected = once(ua, 'disconnected') as Promise<[{ code?: number }]>;
    await sql.query('DELETE FROM users_auth WHERE id = 3');
    const [event] = await disconnected;
    expect(event.code).toBe(4001);
    expect(server.sip?.registrations(0, 3)).toEqual([]);
    ua.stop();
  });

  it('calls into a conference, is put out with a BYE carrying the reason, calls again and hangs up', async () => {
    await sql.query("INSERT INTO conference (name, user_id, caller_id, message, profile) VALUES ('101', 4, 4, '{}', 'video')");
    const ua = userAgent(server, 4, 'key4');
    await registered(ua);
    const members = () => server.model.findMembers(0, { rooms: ['101'], userIds: [4] });

    const first = call(ua, '0*101*video');
    await once(first, 'confirmed');
    expect(await members()).toHaveLength(1);
    const ended = once(first, 'ended') as Promise<[EndEvent]>;
    await sql.query("DELETE FROM conference_members WHERE name = '101' AND user_id = 4");
    const [end] = await ended;
    expect(end.originator).toBe('remote');
    expect(end.message.getHeader('Reason')).toBe('Q.850;cause=16;text="kicked"');

    const second = call(ua, '0*101*video');
    await once(second, 'confirmed');
    expect(await members()).toHaveLength(1);
    const hungUp = once(second, 'ended');
    second.terminate();
    await hungUp;
    const deadline = Date.now() + 5000;
    while ((await members()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await members()).toEqual([]);
    expect(media.peers.size).toBe(0);
    await stopped(ua);
  });
});
