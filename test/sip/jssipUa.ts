/**
 * The real JsSIP 3 user agent, the one the browser library bundles, running in Node: WebSocket from `ws`,
 * and for calls werift's RTCPeerConnection where a browser would have its own.
 */
import { expect } from 'vitest';
import { once } from 'node:events';
import JsSIP from 'jssip';
import type { RTCSession } from 'jssip/lib/RTCSession.js';
import { RTCPeerConnection } from 'werift';
import WebSocket from 'ws';

/** Every WebSocket JsSIP opened, newest last: a test drops one as a failing network would. */
export const jssipSockets: WebSocket[] = [];

/** What JsSIP reaches for in a browser. */
export function installBrowserGlobals(): void {
  Object.assign(globalThis, {
    WebSocket: class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        jssipSockets.push(this);
      }
    },
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

/** A UA configured as CppComet's cometVideoApi.js configures it, for `/sip` on this port. */
export function userAgent(httpPort: number, userId: number, password: string): JsSIP.UA {
  const user = `000000${userId}`;
  return new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(`ws://127.0.0.1:${httpPort}/sip`)],
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

export async function registered(ua: JsSIP.UA): Promise<void> {
  const outcome = Promise.race([once(ua, 'registered').then(() => 'registered'), once(ua, 'registrationFailed').then(() => 'failed')]);
  ua.start();
  expect(await outcome).toBe('registered');
}

export async function stopped(ua: JsSIP.UA): Promise<void> {
  const disconnected = ua.isConnected() ? once(ua, 'disconnected') : Promise.resolve();
  ua.stop();
  await disconnected;
}

/** Places a call as cometVideoApi does after `registered`; the werift peer offers audio and video. */
export function call(ua: JsSIP.UA, destination: string): RTCSession {
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
