/**
 * A call outlives its signalling socket: the real JsSIP 3 UA loses its WebSocket mid-call, reconnects by
 * itself and registers again, and its dialog carries on over the new socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type JsSIP from 'jssip';
import type { EndEvent, RTCSession } from 'jssip/lib/RTCSession.js';
import type { ConferenceModel } from '../../src/conference/model.js';
import type { LeaveReason, Member } from '../../src/domain.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import type { SipServer } from '../../src/sip/sipServer.js';
import { call, installBrowserGlobals, jssipSockets, registered, stopped, userAgent } from './jssipUa.js';
import { startSipServer, useJsSipServer } from './servers.js';
import { until } from './until.js';
import { WeriftMedia } from './weriftMedia.js';

/** A registered UA of this user in a confirmed call to the room. */
async function inCall(httpPort: number, userId: number, room: string): Promise<{ ua: JsSIP.UA; session: RTCSession }> {
  const ua = userAgent(httpPort, userId, `key${userId}`);
  await registered(ua);
  const session = call(ua, `0*${room}*video`);
  await once(session, 'confirmed');
  return { ua, session };
}

/** Cuts the UA's WebSocket as a failing network does (no close handshake); resolves when JsSIP has seen it. */
async function dropSocket(ua: JsSIP.UA): Promise<void> {
  const disconnected = once(ua, 'disconnected');
  jssipSockets.at(-1)?.terminate();
  await disconnected;
}

describe('a JsSIP call when its WebSocket drops and JsSIP reconnects', () => {
  const media = new WeriftMedia();
  const live = useJsSipServer(media);
  const departures: { member: Member; reason: LeaveReason }[] = [];
  const reasonsLeft = (userId: number) => departures.filter(({ member }) => member.userId === userId).map(({ reason }) => reason);
  const inRoom = async (room: string, userId: number) => (await live.server.model.findMembers(0, { rooms: [room], userIds: [userId] })).length === 1;
  const flowOf = (userId: number) => live.server.sip.registrations(0, userId)[0]?.flowId;

  beforeAll(async () => {
    live.server.model.on('memberLeft', (member, reason) => departures.push({ member, reason }));
    await live.sql.query("INSERT INTO users_auth (id, hash) VALUES (1, 'key1'), (2, 'key2'), (3, 'key3')");
    await live.sql.query(
      "INSERT INTO conference (name, user_id, message, profile) VALUES ('drop-kick', 1, '{}', 'video'), ('drop-hangup', 2, '{}', 'video'), ('away-kick', 3, '{}', 'video')",
    );
  });

  /** Drops the socket and waits for JsSIP to register again on a new one; the member stays in the room throughout. */
  const dropAndReturn = async (ua: JsSIP.UA, userId: number, room: string) => {
    const flowBefore = flowOf(userId);
    const back = once(ua, 'registered');
    await dropSocket(ua);
    let returned = false;
    void back.then(() => (returned = true));
    while (!returned) {
      expect(await inRoom(room, userId)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(flowOf(userId)).not.toBe(flowBefore);
    expect(reasonsLeft(userId)).toEqual([]);
  };

  it('keeps the member; a kick afterwards sends the BYE with its Reason over the new socket', async () => {
    const { ua, session } = await inCall(live.server.httpPort, 1, 'drop-kick');
    await dropAndReturn(ua, 1, 'drop-kick');
    const ended = once(session, 'ended') as Promise<[EndEvent]>;
    await live.sql.query("DELETE FROM conference_members WHERE name = 'drop-kick' AND user_id = 1");
    const [end] = await ended;
    expect(end.originator).toBe('remote');
    expect(end.message.getHeader('Reason')).toBe('Q.850;cause=16;text="kicked"');
    expect(reasonsLeft(1)).toEqual(['kicked']);
    await stopped(ua);
  });

  it('keeps the member; the browser hanging up afterwards sends its BYE over the new socket and the member leaves', async () => {
    const { ua, session } = await inCall(live.server.httpPort, 2, 'drop-hangup');
    await dropAndReturn(ua, 2, 'drop-hangup');
    session.terminate();
    await until(() => reasonsLeft(2).length > 0);
    expect(reasonsLeft(2)).toEqual(['hangup']);
    await until(() => media.left.some((member) => member.room === 'drop-hangup'));
    await stopped(ua);
  });

  it('puts a member kicked while away out at once, and sends the BYE when JsSIP is back', async () => {
    const { ua, session } = await inCall(live.server.httpPort, 3, 'away-kick');
    const back = once(ua, 'registered');
    await dropSocket(ua);
    // The server has seen the socket close when the registration on it is gone.
    await until(() => flowOf(3) === undefined);
    const ended = once(session, 'ended') as Promise<[EndEvent]>;
    await live.server.model.leave(0, 'away-kick', 3, 'kicked');
    expect(await inRoom('away-kick', 3)).toBe(false);
    await until(() => media.left.some((member) => member.room === 'away-kick'), 1000);
    expect(session.isEnded()).toBe(false);
    await back;
    const [end] = await ended;
    expect(end.originator).toBe('remote');
    expect(end.message.getHeader('Reason')).toBe('Q.850;cause=16;text="kicked"');
    expect(reasonsLeft(3)).toEqual(['kicked']);
    await stopped(ua);
  });
});

describe('a JsSIP call whose browser does not come back', () => {
  const GRACE_MS = 1000;
  const media = new WeriftMedia();
  const http = new HttpServer(createLogger('silent'));
  let model: ConferenceModel;
  let sip: SipServer;
  let httpPort: number;

  // The signalling and the model alone, with a grace period a test can wait out.
  beforeAll(async () => {
    installBrowserGlobals();
    ({ port: httpPort, model, sip } = await startSipServer(http, media, { reconnectGraceMs: GRACE_MS, maxSocketsPerUser: 8, maxRegistrationsPerUser: 8 }));
    await model.setKey({ devId: 0, userId: 1, hash: 'key1' });
    await model.inviteUser({ devId: 0, room: 'gone', userId: 1, callerId: 1, message: '{}', profile: 'video', viewerOnly: false });
  });
  afterAll(async () => {
    await sip.close();
    await http.close();
    await media.close();
  });

  it('ends the call after the grace period: the member leaves with hangup and the media leg is released', async () => {
    const { ua } = await inCall(httpPort, 1, 'gone');
    const left = once(model, 'memberLeft') as Promise<[Member, LeaveReason]>;
    await dropSocket(ua);
    // Stopped, the UA does not reconnect.
    ua.stop();
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS / 2));
    expect(await model.findMembers(0, { rooms: ['gone'], userIds: [1] })).toHaveLength(1);
    const [member, reason] = await left;
    expect(member).toMatchObject({ room: 'gone', userId: 1 });
    expect(reason).toBe('hangup');
    await until(() => media.left.some((gone) => gone.room === 'gone'));
    expect(sip.activeCalls).toBe(0);
  });
});
