/**
 * ICE with the offers browsers make by default, without a browser: the real JsSIP in Node with werift as the
 * browser's RTCPeerConnection, its offer rewritten as Firefox and Chromium send it when they hide their
 * addresses (mDNS `.local` host candidates only, and Firefox's a=end-of-candidates). The server learns the
 * browser's address from its checks (a peer-reflexive candidate) and looks nothing up: no mDNS, no DNS, no
 * STUN server it was not given. A leg whose checks never arrive ends after [media] connect_timeout as a dead
 * one does: the member leaves with media-failed and the call gets a BYE saying so.
 */
import dgram from 'node:dgram';
import { promises as dns } from 'node:dns';
import { mkdtempSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type JsSIP from 'jssip';
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession.js';
import type { RTCPeerConnection } from 'werift';
import type { LeaveReason } from '../../src/domain.js';
import { connect, startMediaServer, type TestServer } from '../helpers/server.js';
import { eventually, testProfilesFile } from '../mixer/harness.js';
import { call, installBrowserGlobals, registered, stopped, userAgent } from '../sip/jssipUa.js';
import { candidateAddresses, onlyMdnsCandidates } from './sdp.js';

const CONNECT_TIMEOUT_S = 3;

/** Resolves when the call is up; a refused one (488: the mixer could not answer) fails the test at once. */
function confirmed(session: RTCSession): Promise<void> {
  return new Promise((resolve, reject) => {
    session.once('confirmed', () => resolve());
    session.once('failed', (event: { cause: string }) => reject(new Error(`the call failed: ${event.cause}`)));
  });
}

describe('ICE with an offer whose candidates are only mDNS names', () => {
  let server: TestServer;
  const departures: { userId: number; reason: LeaveReason }[] = [];
  const uas: JsSIP.UA[] = [];
  const lookups = vi.spyOn(dns, 'lookup');
  const datagrams: { port: number; address: string }[] = [];

  beforeAll(async () => {
    installBrowserGlobals();
    server = await startMediaServer(testProfilesFile(), mkdtempSync(join(tmpdir(), 'cometmcu-mdns-')), {
      COMET_MEDIA_CONNECT_TIMEOUT: String(CONNECT_TIMEOUT_S),
    });
    server.model.on('memberLeft', (member, reason) => departures.push({ userId: member.userId, reason }));
    const send = dgram.Socket.prototype.send;
    vi.spyOn(dgram.Socket.prototype, 'send').mockImplementation(function (this: dgram.Socket, ...args: unknown[]) {
      // send(msg, [offset, length,] port, address, callback)
      const at = args.findIndex((arg, i) => i > 0 && typeof arg === 'number' && typeof args[i + 1] === 'string');
      if (at > 0) datagrams.push({ port: args[at] as number, address: args[at + 1] as string });
      return (send as (...a: unknown[]) => void).apply(this, args);
    });
    const sql = await connect(server);
    await sql.query("INSERT INTO users_auth (id, hash) VALUES (1, 'key1'), (2, 'key2')");
    await sql.end();
    for (const userId of [1, 2]) {
      const ua = userAgent(server.httpPort, userId, `key${userId}`);
      uas.push(ua);
      await registered(ua);
    }
  }, 60_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    for (const ua of uas) await stopped(ua);
    await server?.close();
  });

  it('connects through the peer-reflexive candidate of the first check, with no lookup and no STUN', async () => {
    lookups.mockClear();
    datagrams.length = 0;
    const session = call(uas[0]!, '0*mdns*grid');
    let offer = '';
    session.on('sdp', (event: { originator: string; type: string; sdp: string }) => {
      if (event.originator === 'local' && event.type === 'offer') offer = event.sdp = onlyMdnsCandidates(event.sdp);
    });
    await confirmed(session);
    const addresses = candidateAddresses(offer);
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.filter((address) => !address.endsWith('.local'))).toEqual([]);
    expect(offer).toContain('a=end-of-candidates');
    // Media flows both ways: the browser decrypts the mixer's packets, the server keeps the member.
    const peer = session.connection as unknown as RTCPeerConnection;
    let packets = 0;
    for (const transport of new Set(peer.getTransceivers().map((transceiver) => transceiver.dtlsTransport))) transport.onRtp.subscribe(() => packets++);
    await eventually(() => expect(packets).toBeGreaterThan(10), 15_000);
    expect(peer.connectionState).toBe('connected');
    // Past the connect timeout, the connected leg is still in the room.
    await new Promise((resolve) => setTimeout(resolve, (CONNECT_TIMEOUT_S + 1) * 1000));
    expect((await server.model.findMembers(0, { rooms: ['mdns'] })).map((member) => member.userId)).toEqual([1]);
    expect(departures).toEqual([]);
    // Nothing was looked up, no datagram went to mDNS (5353) or a STUN server (19302 is werift's old default).
    expect(lookups).not.toHaveBeenCalled();
    expect(datagrams.length).toBeGreaterThan(0);
    expect(datagrams.filter(({ port, address }) => port === 5353 || port === 19302 || !isIP(address))).toEqual([]);
    session.terminate();
  }, 40_000);

  it('ends a leg whose checks never arrive within connect_timeout: media-failed, BYE with cause 47', async () => {
    const session: RTCSession = call(uas[1]!, '0*mdns*grid');
    session.on('sdp', (event: { originator: string; type: string; sdp: string }) => {
      if (event.originator === 'local' && event.type === 'offer') event.sdp = onlyMdnsCandidates(event.sdp);
      // The browser's checks go to a port where nobody listens: as if a firewall dropped them.
      if (event.originator === 'remote' && event.type === 'answer') event.sdp = event.sdp.replace(/^(a=candidate:\S+ \d+ udp \d+ \S+ )\d+/gim, (_, head: string) => `${head}9`);
    });
    const ended = once(session, 'ended') as Promise<[EndEvent]>;
    await confirmed(session);
    const confirmedAt = performance.now();
    const [end] = await ended;
    const after = performance.now() - confirmedAt;
    expect(end.originator).toBe('remote');
    expect(end.message?.getHeader('Reason')).toBe('Q.850;cause=47;text="media-failed"');
    expect(departures.filter(({ userId }) => userId === 2)).toEqual([{ userId: 2, reason: 'media-failed' }]);
    // The timer starts when the answer is made, just before the 200 OK: the BYE comes at about 3 s.
    expect(after).toBeGreaterThan((CONNECT_TIMEOUT_S - 0.5) * 1000);
    expect(after).toBeLessThan((CONNECT_TIMEOUT_S + 3) * 1000);
    await eventually(async () => expect((await server.model.findMembers(0, { rooms: ['mdns'] })).map((member) => member.userId)).not.toContain(2));
  }, 40_000);
});
