/**
 * [media] media_timeout: a leg from which nothing has come for that long ends as a failed one: the member
 * leaves the room with reason media-failed (the others' onOut) and the call gets a BYE saying so. A quiet
 * member (no camera, no microphone) still sends RTCP reports, and stays.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type JsSIP from 'jssip';
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession.js';
import type { Connection } from 'mysql2/promise';
import type { RTCPeerConnection } from 'werift';
import type { LeaveReason } from '../../src/domain.js';
import { connect, startMediaServer, type TestServer } from '../helpers/server.js';
import { eventually, sleep, testProfilesFile } from '../mixer/harness.js';
import { call, installBrowserGlobals, registered, stopped, userAgent } from '../sip/jssipUa.js';

/** Long enough for a loaded machine to connect a call before it counts as silent. */
const TIMEOUT_S = 5;
/** Well above the timeout, well below werift's own ICE consent expiry (25 to 30 s after the last check), which ends a dead leg too. */
const PUT_OUT_WITHIN_MS = 15_000;

describe('a media leg that goes silent', () => {
  let server: TestServer;
  let sql: Connection;
  const departures: { userId: number; reason: LeaveReason }[] = [];
  const phones: { ua: JsSIP.UA; session: RTCSession; peer: RTCPeerConnection }[] = [];
  const members = async () => (await server.model.findMembers(0, { rooms: ['quiet'] })).map((member) => member.userId).sort();

  beforeAll(async () => {
    installBrowserGlobals();
    server = await startMediaServer(testProfilesFile(), mkdtempSync(join(tmpdir(), 'cometmcu-silent-')), { COMET_MEDIA_MEDIA_TIMEOUT: String(TIMEOUT_S) });
    server.model.on('memberLeft', (member, reason) => departures.push({ userId: member.userId, reason }));
    sql = await connect(server);
    await sql.query("INSERT INTO users_auth (id, hash) VALUES (1, 'key1'), (2, 'key2')");
    // Phones that send no media of their own: only RTCP reports on what they receive.
    for (const userId of [1, 2]) {
      const ua = userAgent(server.httpPort, userId, `key${userId}`);
      await registered(ua);
      const session = call(ua, '0*quiet*grid');
      await once(session, 'confirmed');
      phones.push({ ua, session, peer: session.connection as unknown as RTCPeerConnection });
    }
  }, 60_000);
  afterAll(async () => {
    for (const { ua } of phones) await stopped(ua);
    await sql.end();
    await server.close();
  });

  it('keeps quiet members whose RTCP still comes, well past the timeout', async () => {
    await sleep(2 * TIMEOUT_S * 1000);
    expect(await members()).toEqual([1, 2]);
    expect(departures).toEqual([]);
  }, 60_000);

  it('puts out a member whose media stopped (BYE with cause 47), and the others stay with their media', async () => {
    const [gone, staying] = phones as [(typeof phones)[0], (typeof phones)[0]];
    const ended = once(gone.session, 'ended') as Promise<[EndEvent]>;
    // The browser's media dies without a word (no DTLS close_notify, no RTCP BYE); its SIP socket lives on.
    const closedAt = performance.now();
    await gone.peer.close();
    const [end] = await ended;
    expect(performance.now() - closedAt).toBeLessThan(PUT_OUT_WITHIN_MS);
    expect(end.originator).toBe('remote');
    expect(end.message?.getHeader('Reason')).toBe('Q.850;cause=47;text="media-failed"');
    expect(departures).toEqual([{ userId: 1, reason: 'media-failed' }]);
    expect(await members()).toEqual([2]);

    let packets = 0;
    for (const transport of new Set(staying.peer.getTransceivers().map((transceiver) => transceiver.dtlsTransport))) transport.onRtp.subscribe(() => packets++);
    await eventually(() => expect(packets).toBeGreaterThan(10));
    expect(staying.session.isEnded()).toBe(false);
  }, 60_000);
});
