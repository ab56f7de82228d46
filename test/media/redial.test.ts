/**
 * A member who calls again from a new socket (a browser reloaded, a network that came back) is in the room
 * with the new call's media every time: the old leg's end, or its failure, never takes the new membership
 * with it.
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
import { BrowserFleet, eventually, newMixerWorld, sleep, testProfilesFile, type JoinOptions } from '../mixer/harness.js';
import { call, installBrowserGlobals, registered, stopped, userAgent } from '../sip/jssipUa.js';
import { useJsSipServer } from '../sip/servers.js';
import { WeriftMedia } from '../sip/weriftMedia.js';

const REDIALS = 12;

describe('redialling', () => {
  let server: TestServer;
  let sql: Connection;
  const departures: LeaveReason[] = [];

  beforeAll(async () => {
    installBrowserGlobals();
    server = await startMediaServer(testProfilesFile(), mkdtempSync(join(tmpdir(), 'cometmcu-redial-')));
    server.model.on('memberLeft', (member, reason) => departures.push(reason));
    sql = await connect(server);
    await sql.query("INSERT INTO users_auth (id, hash) VALUES (1, 'key1')");
  });
  afterAll(async () => {
    await sql.end();
    await server.close();
  });

  it(`keeps the member in the room with the newest call's media, ${REDIALS} calls in a row`, async () => {
    let previous: { ua: JsSIP.UA; session: RTCSession } | undefined;
    for (let attempt = 1; attempt <= REDIALS; attempt++) {
      // A new UA: a new socket and a new peer connection, while the previous call is still up.
      const ua = userAgent(server.httpPort, 1, 'key1');
      await registered(ua);
      const session = call(ua, '0*redial*grid');
      const outcome = await Promise.race([once(session, 'confirmed').then(() => 'confirmed'), once(session, 'failed').then(() => 'failed')]);
      expect(outcome, `call ${attempt}`).toBe('confirmed');
      if (previous) await stopped(previous.ua);
      previous = { ua, session };

      // The mix reaches the new call's peer, and the member is in the room, once, with that leg.
      const peer = session.connection as unknown as RTCPeerConnection;
      let packets = 0;
      for (const transport of new Set(peer.getTransceivers().map((transceiver) => transceiver.dtlsTransport))) transport.onRtp.subscribe(() => packets++);
      await eventually(() => expect(packets, `RTP on call ${attempt}`).toBeGreaterThan(10), 15_000);
      expect(session.isEnded(), `call ${attempt} ended`).toBe(false);
      expect(await server.model.findMembers(0, { rooms: ['redial'] }), `after call ${attempt}`).toHaveLength(1);
      expect(server.mixer?.stats().members).toBe(1);
    }
    expect(departures).toEqual([]);
    await stopped(previous!.ua);
    await eventually(async () => expect(await server.model.findMembers(0, { rooms: ['redial'] })).toEqual([]));
  }, 240_000);
});

describe('a replaced call whose leg fails late', () => {
  const media = new WeriftMedia();
  const live = useJsSipServer(media);

  beforeAll(async () => {
    await live.sql.query("INSERT INTO users_auth (id, hash) VALUES (1, 'key1')");
    await live.sql.query("INSERT INTO conference (name, user_id, message, profile) VALUES ('late', 1, '{}', 'video')");
  });

  it("leaves the member in with the newer call; the newer leg's own failure puts them out with a BYE", async () => {
    const phones: { ua: JsSIP.UA; session: RTCSession }[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const ua = userAgent(live.server.httpPort, 1, 'key1');
      await registered(ua);
      const session = call(ua, '0*late*video');
      await once(session, 'confirmed');
      phones.push({ ua, session });
    }
    const [first, second] = media.joined.map((member) => media.failureOf.get(member)!);
    // The first leg reports its failure only now, its call already replaced by the second.
    first!();
    await sleep(500);
    expect(await live.server.model.findMembers(0, { rooms: ['late'] })).toHaveLength(1);
    expect(phones[1]!.session.isEnded()).toBe(false);

    const ended = once(phones[1]!.session, 'ended') as Promise<[EndEvent]>;
    second!();
    const [end] = await ended;
    expect(end.message?.getHeader('Reason')).toBe('Q.850;cause=47;text="media-failed"');
    expect(await live.server.model.findMembers(0, { rooms: ['late'] })).toEqual([]);
    for (const { ua } of phones) await stopped(ua);
  });
});

describe('a member joining the mixer again', () => {
  const world = newMixerWorld();
  const fleet = new BrowserFleet();
  afterAll(async () => {
    await fleet.close();
    await world.mixer.close();
  });

  it('keeps the new membership when the mixer closes the old leg (a close of ours is no failure)', async () => {
    const member: JoinOptions = { userId: 1, colour: 'red', tone: 400, video: false, decode: false };
    for (let attempt = 1; attempt <= 3; attempt++) {
      await fleet.join(world, member);
      await sleep(1000);
      expect(await world.model.findMembers(0, { rooms: ['r'] }), `after join ${attempt}`).toHaveLength(1);
      expect(world.mixer.stats().members).toBe(1);
      await fleet.call('close', member.userId);
    }
  }, 60_000);
});
