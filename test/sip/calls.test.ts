import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import WebSocket from 'ws';
import { tagOf, type SipResponse } from '../../src/sip/message.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';
import { authorization, RawSipClient, register as registerContact, sendAuthenticated, sipRequest, token } from './rawClient.js';
import { until } from './until.js';
import { browserOffer, WeriftMedia } from './weriftMedia.js';

const KEYS: Record<number, string> = { 1: 'key1', 2: 'key2', 3: 'key3', 4: 'key4', 5: 'key5', 6: 'key6', 7: 'key7', 8: 'key8', 9: 'key9' };
const user = (userId: number): string => `000000${userId}`;
/** The Contact of every INVITE here, and the one JsSIP registers for it: the same URI, `;ob` aside. */
const CONTACT = 'Contact: <sip:xyz@abcdef.invalid;transport=ws;ob>';
const REGISTERED_CONTACT = '<sip:xyz@abcdef.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:9b0f0e3c-2f4e-4a8e-9d35-6c1b5d1e0a01>";expires=600';

interface Dialled {
  callId: string;
  fromTag: string;
  uri: string;
  cseq: number;
  final: SipResponse;
  /** Every response to the authenticated INVITE, in order. */
  responses: SipResponse[];
}

/** Dials as JsSIP does: INVITE, 401, ACK, INVITE with credentials; resolves with the final response. */
async function dial(client: RawSipClient, userId: number, destination: string, offer: string, password = KEYS[userId] ?? ''): Promise<Dialled> {
  const callId = token();
  const fromTag = token();
  const uri = `sip:${destination}@localhost`;
  const headers = [CONTACT, 'Content-Type: application/sdp', 'Supported: ice,replaces,outbound'];
  const final = await sendAuthenticated(client, { method: 'INVITE', uri, callId, fromUser: user(userId), fromTag, headers, body: offer }, password);
  const provisional = client.received.filter((m): m is SipResponse => m.kind === 'response' && m.callId === callId && m.cseq.seq === 2);
  return { callId, fromTag, uri, cseq: 2, final, responses: [...provisional, final] };
}

/** Registers the calls' Contact as JsSIP does on every (re)connection. */
const register = (client: RawSipClient, userId: number): Promise<SipResponse> => registerContact(client, user(userId), KEYS[userId] ?? '', REGISTERED_CONTACT);

/** A request in the dialog the 200 OK created. */
function inDialog(call: Dialled, method: string, cseq: number, extra: { headers?: string[]; body?: string; branch?: string } = {}): string {
  return sipRequest({
    method,
    uri: 'sip:cometmcu@localhost;transport=ws',
    toUri: call.uri,
    callId: call.callId,
    cseq,
    fromUser: '0000005',
    fromTag: call.fromTag,
    toTag: tagOf(call.final.to),
    ...extra,
  });
}

const ack = (call: Dialled): string => inDialog(call, 'ACK', call.cseq);

describe('SIP calls over WebSocket', () => {
  let server: TestServer;
  let sql: Connection;
  const media = new WeriftMedia();
  let offer: string;
  const inRoom = async (room: string, userId: number) => (await server.model.findMembers(0, { rooms: [room], userIds: [userId] })).length === 1;
  /** An invited user's call, answered and acknowledged, on a socket of its own. */
  const answeredCall = async (room: string, userId: number) => {
    await sql.query("INSERT INTO conference (name, user_id, message, profile) VALUES (?, ?, '{}', 'video')", [room, userId]);
    const client = await RawSipClient.connect(server.httpPort);
    const call = await dial(client, userId, `0*${room}*video`, offer);
    expect(call.final.status).toBe(200);
    client.send(ack(call));
    return { client, call };
  };

  beforeAll(async () => {
    // A profile that holds one member, to fill a room.
    const dir = mkdtempSync(join(tmpdir(), 'cometmcu-sip-'));
    const profiles = join(dir, 'profiles.ini');
    copyFileSync(new URL('../../conf/profiles.ini', import.meta.url), profiles);
    appendFileSync(profiles, '\n[solo]\nmedia = video\ncanvas = 640x360\nfps = 15\ncodec = VP8\nbitrate = 500\nlayout = single\nmax_members = 1\nopen = false\n');
    // An open profile: any user with a key may start a room under it.
    appendFileSync(profiles, '\n[lobby]\nmedia = video\ncanvas = 640x360\nfps = 15\ncodec = VP8\nbitrate = 500\nlayout = grid\nmax_members = 4\nopen = true\n');
    server = await startTestServer({ COMET_CONFERENCE_PROFILES: profiles }, media);
    sql = await connect(server);
    for (const [id, hash] of Object.entries(KEYS)) await sql.query('INSERT INTO users_auth (id, hash) VALUES (?, ?)', [id, hash]);
    const browser = await browserOffer();
    offer = browser.sdp;
    await browser.peer.close();
  });
  afterAll(async () => {
    await sql.end();
    await server.close();
    await media.close();
  });

  it('answers 100 and 401, then 200 with an SDP answer a WebRTC peer connects with; BYE takes the member out', async () => {
    await sql.query("INSERT INTO conference (name, user_id, caller_id, message, profile) VALUES ('101', 1, 1, '{}', 'video')");
    const browser = await browserOffer();
    const client = await RawSipClient.connect(server.httpPort);
    const call = await dial(client, 1, '0*101*video', browser.sdp);
    expect(call.responses.map((r) => r.status)).toEqual([100, 200]);
    expect(call.final.headers.get('Content-Type')).toBe('application/sdp');
    expect(call.final.headers.get('Contact')).toMatch(/^<sip:cometmcu@localhost:\d+;transport=ws>$/);
    expect(tagOf(call.final.to)).toMatch(/^[0-9a-f]{16}$/);
    expect(call.final.vias[0]?.params.get('received')).toBe('127.0.0.1');
    expect(await inRoom('101', 1)).toBe(true);
    expect(server.sip?.activeCalls).toBe(1);
    client.send(ack(call));

    // The answer is a real one: the browser's peer connects with the media engine's.
    await browser.peer.setRemoteDescription({ type: 'answer', sdp: call.final.body });
    await browser.peer.connectionStateChange.watch((state) => state === 'connected', 10_000);

    client.send(inDialog(call, 'BYE', 3));
    expect((await client.final(call.callId, 3, 'BYE')).status).toBe(200);
    expect(await inRoom('101', 1)).toBe(false);
    expect(server.sip?.activeCalls).toBe(0);
    await until(() => media.left.some((member) => member.room === '101' && member.userId === 1));
    await browser.peer.close();
    await client.close();
  });

  it('refuses: wrong key 403, not invited 403, no route 404, another tenant 403, unknown profile 404, full room 486', async () => {
    await sql.query("INSERT INTO conference (name, user_id, message, profile) VALUES ('solo', 2, '{}', 'solo'), ('solo', 3, '{}', 'solo'), ('mix', 2, '{}', 'audio'), ('mix', 3, '{}', 'video')");
    const client = await RawSipClient.connect(server.httpPort);
    const sipLoginFailures = async () => (await server.metrics.loginFailures.get()).values.find((v) => v.labels.front === 'sip')?.value ?? 0;
    const failuresBefore = await sipLoginFailures();
    expect((await dial(client, 2, '0*solo*solo', offer, 'wrong')).final.status).toBe(403);
    expect(await sipLoginFailures()).toBe(failuresBefore + 1);
    expect((await dial(client, 2, '0*nobody*video', offer)).final.status).toBe(403);
    expect((await dial(client, 2, '101', offer)).final).toMatchObject({ status: 404, reason: 'Not Found' });
    expect((await dial(client, 2, '7*solo*solo', offer)).final.status).toBe(403);
    expect((await dial(client, 2, '0*solo*nosuch', offer)).final.status).toBe(404);

    const first = await dial(client, 2, '0*solo*solo', offer);
    expect(first.final.status).toBe(200);
    client.send(ack(first));
    expect((await dial(client, 3, '0*solo*solo', offer)).final).toMatchObject({ status: 486, reason: 'Busy Here' });
    client.send(inDialog(first, 'BYE', 3));
    expect((await client.final(first.callId, 3, 'BYE')).status).toBe(200);
    expect(await inRoom('solo', 2)).toBe(false);
    await client.close();
  });

  it("admits by the room's openness, not the dialled profile's: nobody uninvited gets into a closed room, nobody locks the invited out", async () => {
    await sql.query("INSERT INTO conference (name, user_id, message, profile) VALUES ('closed', 2, '{}', 'video'), ('mix', 2, '{}', 'audio'), ('mix', 3, '{}', 'video')");
    const intruder = await RawSipClient.connect(server.httpPort);
    const invited = await RawSipClient.connect(server.httpPort);
    // An open profile dialled opens nothing: the room has an invitation.
    expect((await dial(intruder, 9, '0*closed*lobby', offer)).final).toMatchObject({ status: 403 });
    expect((await dial(intruder, 9, '0*closed*video', offer)).final).toMatchObject({ status: 403 });
    expect(await inRoom('closed', 9)).toBe(false);
    const call = await dial(invited, 2, '0*closed*video', offer);
    expect(call.final.status).toBe(200);
    invited.send(ack(call));
    expect((await dial(intruder, 9, '0*closed*lobby', offer)).final).toMatchObject({ status: 403 });

    // A room without invitations is open under an open profile only; whoever joins it next joins under that.
    expect((await dial(intruder, 9, '0*drop-in*video', offer)).final.status).toBe(403);
    const opened = await dial(intruder, 9, '0*drop-in*lobby', offer);
    expect(opened.final.status).toBe(200);
    intruder.send(ack(opened));
    const other = await RawSipClient.connect(server.httpPort);
    const joined = await dial(other, 1, '0*drop-in*video', offer);
    expect(joined.final.status).toBe(200);
    other.send(ack(joined));
    expect((await server.model.findMembers(0, { rooms: ['drop-in'] })).map((m) => m.profile)).toEqual(['lobby', 'lobby']);

    // Invited under two profiles: the second joins the running room under its profile instead of a 488.
    const audio = await dial(invited, 2, '0*mix*audio', offer);
    invited.send(ack(audio));
    const video = await dial(other, 3, '0*mix*video', offer);
    expect(video.final.status).toBe(200);
    other.send(ack(video));
    expect((await server.model.findMembers(0, { rooms: ['mix'], userIds: [3] }))[0]?.profile).toBe('audio');
    for (const [client, ended] of [[invited, call], [intruder, opened], [other, joined], [invited, audio], [other, video]] as const) {
      client.send(inDialog(ended, 'BYE', 3));
      expect((await client.final(ended.callId, 3, 'BYE')).status).toBe(200);
    }
    expect(await server.model.findMembers(0, { rooms: ['closed', 'drop-in', 'mix'] })).toEqual([]);
    for (const client of [intruder, invited, other]) await client.close();
  });

  it('refuses an offer beyond the SDP bounds (8 m-lines, 32 KiB, 1000 lines) with 488 or 413 before the media engine sees it', async () => {
    await sql.query("INSERT INTO conference (name, user_id, message, profile) VALUES ('sdp', 1, '{}', 'video')");
    const client = await RawSipClient.connect(server.httpPort);
    const joinsBefore = media.joined.length;
    const invite = async (body: string) => (await dial(client, 1, '0*sdp*video', body)).final;
    // The offer's audio section again and again, each with a mid of its own: nine m-lines.
    const audio = offer.slice(offer.indexOf('m=audio'), offer.indexOf('m=video'));
    const nine = offer + Array.from({ length: 7 }, (_, i) => audio.replace(/a=mid:\S+/, `a=mid:extra${i}`)).join('');
    expect(await invite(nine)).toMatchObject({ status: 488, reason: 'More than 8 media sections' });
    expect(await invite(`${offer}a=x-padding:${'x'.repeat(33_000)}\r\n`)).toMatchObject({ status: 413, reason: 'SDP larger than 32768 bytes' });
    expect(await invite(offer + 'a=x\r\n'.repeat(1000))).toMatchObject({ status: 413, reason: 'SDP of more than 1000 lines' });
    expect(await invite('hello\r\n')).toMatchObject({ status: 488, reason: 'Not an SDP session description' });
    expect(media.joined.length).toBe(joinsBefore);
    expect(await inRoom('sdp', 1)).toBe(false);
    // The same user's next, ordinary offer is answered: only those requests failed.
    const call = await dial(client, 1, '0*sdp*video', offer);
    expect(call.final.status).toBe(200);
    client.send(ack(call));
    client.send(inDialog(call, 'BYE', 3));
    expect((await client.final(call.callId, 3, 'BYE')).status).toBe(200);
    await client.close();
  });

  it('CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE, and the join is undone', async () => {
    await sql.query("INSERT INTO conference (name, user_id, message, profile) VALUES ('slow', 4, '{}', 'video')");
    const client = await RawSipClient.connect(server.httpPort);
    media.joinDelayMs = 500;
    try {
      const callId = token();
      const fromTag = token();
      const uri = 'sip:0*slow*video@localhost';
      const common = { uri, callId, fromUser: user(4), fromTag, headers: [CONTACT, 'Content-Type: application/sdp'], body: offer };
      client.send(sipRequest({ ...common, method: 'INVITE', cseq: 1 }));
      const challenge = await client.final(callId, 1);
      const branch = `z9hG4bK${token()}`;
      const headers = [authorization(challenge, user(4), 'key4', 'INVITE', uri), ...common.headers];
      client.send(sipRequest({ ...common, method: 'INVITE', cseq: 2, branch, headers }));
      await until(() => media.joined.some((member) => member.room === 'slow'));
      client.send(sipRequest({ ...common, method: 'CANCEL', cseq: 2, branch, headers: [], body: '' }));
      expect((await client.final(callId, 2, 'CANCEL')).status).toBe(200);
      const terminated = await client.final(callId, 2);
      expect(terminated).toMatchObject({ status: 487, reason: 'Request Terminated' });
      client.send(sipRequest({ ...common, method: 'ACK', cseq: 2, branch, toTag: tagOf(terminated.to), headers: [], body: '' }));
      await until(() => media.left.some((member) => member.room === 'slow'));
      expect(await inRoom('slow', 4)).toBe(false);
      // A CANCEL for nothing.
      client.send(sipRequest({ ...common, method: 'CANCEL', cseq: 9, headers: [], body: '' }));
      expect((await client.final(callId, 9, 'CANCEL')).status).toBe(481);
    } finally {
      media.joinDelayMs = 0;
    }
    await client.close();
  });

  it('sends BYE with a Reason in the dialog when the member is kicked over CometQL', async () => {
    const { client, call } = await answeredCall('kick', 5);
    await sql.query("DELETE FROM conference_members WHERE name = 'kick' AND user_id = 5");
    const bye = await client.request('BYE', call.callId);
    expect(bye.uri.raw).toBe('sip:xyz@abcdef.invalid;transport=ws;ob');
    expect(tagOf(bye.from)).toBe(tagOf(call.final.to));
    expect(tagOf(bye.to)).toBe(call.fromTag);
    expect(bye.cseq.method).toBe('BYE');
    expect(bye.headers.get('Reason')).toBe('Q.850;cause=16;text="kicked"');
    expect(bye.headers.get('Max-Forwards')).toBe('70');
    client.send(`SIP/2.0 200 OK\r\nVia: ${bye.headers.get('Via') ?? ''}\r\nFrom: ${bye.headers.get('From') ?? ''}\r\nTo: ${bye.headers.get('To') ?? ''}\r\nCall-ID: ${bye.callId}\r\nCSeq: ${bye.cseq.seq} BYE\r\nContent-Length: 0\r\n\r\n`);
    // The dialog is over: a late BYE from the browser finds nothing.
    client.send(inDialog(call, 'BYE', 3));
    expect((await client.final(call.callId, 3, 'BYE')).status).toBe(481);
    await client.close();
  });

  it('ends the call with BYE and closes the socket when the key is deleted', async () => {
    const { client, call } = await answeredCall('revoke', 3);
    const closed = once(client.ws, 'close');
    await sql.query('DELETE FROM users_auth WHERE id = 3');
    const bye = await client.request('BYE', call.callId);
    expect(bye.headers.get('Reason')).toBe('Q.850;cause=21;text="key-revoked"');
    expect((await closed)[0]).toBe(4001);
    expect(await inRoom('revoke', 3)).toBe(false);
    await sql.query("INSERT INTO users_auth (id, hash) VALUES (3, 'key3')");
  });

  it('answers a retransmitted INVITE with the same response, processing it once', async () => {
    await sql.query("INSERT INTO conference (name, user_id, message, profile) VALUES ('again', 6, '{}', 'video')");
    const client = await RawSipClient.connect(server.httpPort);
    const callId = token();
    const uri = 'sip:0*again*video@localhost';
    const common = { method: 'INVITE', uri, callId, fromUser: user(6), fromTag: token(), body: offer };
    client.send(sipRequest({ ...common, cseq: 1, headers: [CONTACT, 'Content-Type: application/sdp'] }));
    const challenge = await client.final(callId, 1);
    const invite = sipRequest({ ...common, cseq: 2, headers: [authorization(challenge, user(6), 'key6', 'INVITE', uri), CONTACT, 'Content-Type: application/sdp'] });
    const joinsBefore = media.joined.length;
    client.send(invite);
    client.send(invite);
    const first = await client.final(callId, 2);
    client.send(invite);
    const again = await client.final(callId, 2);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(tagOf(again.to)).toBe(tagOf(first.to));
    expect(again.body).toBe(first.body);
    expect(media.joined.length).toBe(joinsBefore + 1);
    // The early retransmission got the 100 Trying again, not a second 401 or 200.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const provisional = client.received.filter((m): m is SipResponse => m.kind === 'response' && m.callId === callId && m.cseq.seq === 2);
    expect(provisional.map((m) => m.status)).toEqual([100, 100]);
    await client.close();
    await until(async () => !(await inRoom('again', 6)));
  });

  it('in a call: same re-offer 200, changed one 488, UPDATE refresh 200, DTMF INFO 200, other INFO 415, MESSAGE 405, CSeq going back 500', async () => {
    const { client, call } = await answeredCall('talk', 7);
    const sdpHeaders = [CONTACT, 'Content-Type: application/sdp'];
    const refreshed = offer.replace(/^o=(\S+) (\S+) (\d+)/m, (_line, user: string, id: string, version: string) => `o=${user} ${id} ${Number(version) + 1}`);
    client.send(inDialog(call, 'INVITE', 3, { headers: sdpHeaders, body: refreshed }));
    const reanswer = await client.final(call.callId, 3);
    expect(reanswer.status).toBe(200);
    expect(reanswer.body).toBe(call.final.body);
    client.send(inDialog(call, 'ACK', 3));
    client.send(inDialog(call, 'INVITE', 4, { headers: sdpHeaders, body: offer.replace(/a=sendrecv/g, 'a=sendonly') }));
    expect((await client.final(call.callId, 4)).status).toBe(488);
    client.send(inDialog(call, 'UPDATE', 5));
    expect((await client.final(call.callId, 5, 'UPDATE')).status).toBe(200);
    client.send(inDialog(call, 'INFO', 6, { headers: ['Content-Type: application/dtmf-relay'], body: 'Signal=5\r\nDuration=100\r\n' }));
    expect((await client.final(call.callId, 6, 'INFO')).status).toBe(200);
    client.send(inDialog(call, 'INFO', 7, { headers: ['Content-Type: text/plain'], body: 'hi' }));
    const info = await client.final(call.callId, 7, 'INFO');
    expect(info.status).toBe(415);
    expect(info.headers.get('Accept')).toBe('application/dtmf-relay');
    client.send(inDialog(call, 'MESSAGE', 8, { headers: ['Content-Type: text/plain'], body: 'hi' }));
    const message = await client.final(call.callId, 8, 'MESSAGE');
    expect(message.status).toBe(405);
    expect(message.headers.get('Allow')).toContain('INVITE');
    client.send(inDialog(call, 'BYE', 2));
    expect((await client.final(call.callId, 2, 'BYE')).status).toBe(500);
    expect(await inRoom('talk', 7)).toBe(true);
    client.send(inDialog(call, 'BYE', 9));
    expect((await client.final(call.callId, 9, 'BYE')).status).toBe(200);
    expect(await inRoom('talk', 7)).toBe(false);
    await client.close();
  });

  it('moves a call to the socket its user registers the Contact from, before the old socket is seen to close', async () => {
    const { client, call } = await answeredCall('moved', 6);
    const next = await RawSipClient.connect(server.httpPort);
    expect((await register(next, 6)).status).toBe(200);
    await sql.query("DELETE FROM conference_members WHERE name = 'moved' AND user_id = 6");
    expect((await next.request('BYE', call.callId)).headers.get('Reason')).toBe('Q.850;cause=16;text="kicked"');
    expect(client.received.filter((message) => message.kind === 'request')).toEqual([]);
    await client.close();
    await next.close();
  });

  it('keeps a call whose socket closed until its user registers its Contact again, and serves it there; another user gets 481', async () => {
    const { client, call } = await answeredCall('away', 8);
    await client.close();
    expect(await inRoom('away', 8)).toBe(true);

    // Another user who knows the dialog and registers the same Contact takes nothing over.
    const intruder = await RawSipClient.connect(server.httpPort);
    expect((await register(intruder, 9)).status).toBe(200);
    intruder.send(inDialog(call, 'BYE', 3));
    expect((await intruder.final(call.callId, 3, 'BYE')).status).toBe(481);
    intruder.send(inDialog(call, 'UPDATE', 4));
    expect((await intruder.final(call.callId, 4, 'UPDATE')).status).toBe(481);
    expect(await inRoom('away', 8)).toBe(true);

    // The user is back on a new socket: requests in the dialog are served there, and the kick's BYE goes there.
    const back = await RawSipClient.connect(server.httpPort);
    expect((await register(back, 8)).status).toBe(200);
    back.send(inDialog(call, 'UPDATE', 5));
    expect((await back.final(call.callId, 5, 'UPDATE')).status).toBe(200);
    back.send(inDialog(call, 'INVITE', 6, { headers: [CONTACT, 'Content-Type: application/sdp'], body: offer }));
    expect((await back.final(call.callId, 6)).body).toBe(call.final.body);
    back.send(inDialog(call, 'ACK', 6));
    await sql.query("DELETE FROM conference_members WHERE name = 'away' AND user_id = 8");
    expect((await back.request('BYE', call.callId)).headers.get('Reason')).toBe('Q.850;cause=16;text="kicked"');
    expect(intruder.received.filter((message) => message.kind === 'request')).toEqual([]);
    await intruder.close();
    await back.close();
  });

  it('answers OPTIONS with its capabilities, unknown methods with 501, in-dialog requests without a dialog with 481', async () => {
    const client = await RawSipClient.connect(server.httpPort);
    const callId = token();
    const base = { uri: 'sip:localhost', callId, fromUser: user(1), fromTag: token() };
    client.send(sipRequest({ ...base, method: 'OPTIONS', cseq: 1 }));
    const options = await client.final(callId, 1, 'OPTIONS');
    expect(options.status).toBe(200);
    expect(options.headers.all('Allow')).toEqual(['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'REGISTER']);
    expect(options.headers.get('Accept')).toContain('application/sdp');
    client.send(sipRequest({ ...base, method: 'FROB', cseq: 2 }));
    expect((await client.final(callId, 2, 'FROB')).status).toBe(501);
    client.send(sipRequest({ ...base, method: 'BYE', cseq: 3, toTag: 'nope' }));
    expect((await client.final(callId, 3, 'BYE')).status).toBe(481);
    client.send(sipRequest({ ...base, method: 'OPTIONS', cseq: 4, headers: ['Require: 100rel, timer'] }));
    const extension = await client.final(callId, 4, 'OPTIONS');
    expect(extension.status).toBe(420);
    expect(extension.headers.get('Unsupported')).toBe('100rel, timer');
    // RFC 5626 keep-alive: a double CRLF is answered with one.
    const pong = new Promise<string>((resolve) => client.ws.once('message', (data) => resolve(data.toString())));
    client.ws.send('\r\n\r\n');
    expect(await pong).toBe('\r\n');
    await client.close();
  });

  it('survives garbage: malformed frames get 400 or nothing, the socket stays, a bystander is untouched', async () => {
    const bystander = await RawSipClient.connect(server.httpPort);
    const client = await RawSipClient.connect(server.httpPort);
    const callId = token();
    const options = (cseq: number, extra: string[] = []) => sipRequest({ method: 'OPTIONS', uri: 'sip:localhost', callId, cseq, fromUser: user(1), fromTag: 't', headers: extra });
    client.send(Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]));
    client.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    client.send(options(1).replace(/CSeq: .*\r\n/, ''));
    client.send(options(2).replace('Content-Length: 0', 'Content-Length: 10'));
    const bad = await client.final(callId, 2, 'OPTIONS');
    expect(bad.status).toBe(400);
    expect(bad.reason).toMatch(/Content-Length/);
    client.send(options(3, ['X-Folded: one,', '  two']));
    expect((await client.final(callId, 3, 'OPTIONS')).status).toBe(200);
    // A list the server reads later (Require, Contact) is checked with the message: 400, not a 500 from deep inside.
    client.send(options(4, ['Require: "timer']));
    expect(await client.final(callId, 4, 'OPTIONS')).toMatchObject({ status: 400, reason: 'malformed Require list' });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);

    const bystanderCall = token();
    bystander.send(sipRequest({ method: 'OPTIONS', uri: 'sip:localhost', callId: bystanderCall, cseq: 1, fromUser: user(2), fromTag: 'b' }));
    expect((await bystander.final(bystanderCall, 1, 'OPTIONS')).status).toBe(200);

    // Abuse: a stream of garbage closes that socket (1008), and only that one.
    const closed = once(client.ws, 'close');
    for (let i = 0; i < 30; i++) client.send('garbage\r\n\r\n');
    expect((await closed)[0]).toBe(1008);
    // A message beyond 64 KiB gets 513 and its socket stays; a frame beyond 128 KiB is not read: its socket closes (ws: 1009).
    const big = await RawSipClient.connect(server.httpPort);
    big.send(options(1, [`X-Big: ${'x'.repeat(70_000)}`]));
    expect(await big.final(callId, 1, 'OPTIONS')).toMatchObject({ status: 513, reason: 'message longer than 65536 bytes' });
    const bigClosed = once(big.ws, 'close');
    big.send(options(2, [`X-Big: ${'x'.repeat(140_000)}`]));
    expect((await bigClosed)[0]).toBe(1009);
    bystander.send(sipRequest({ method: 'OPTIONS', uri: 'sip:localhost', callId: bystanderCall, cseq: 2, fromUser: user(2), fromTag: 'b' }));
    expect((await bystander.final(bystanderCall, 2, 'OPTIONS')).status).toBe(200);
    await bystander.close();
  });

  it('refuses a WebSocket that does not ask for the sip subprotocol', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/sip`);
    const [error] = (await once(ws, 'error')) as [Error];
    expect(error.message).toMatch(/400/);
  });
});
