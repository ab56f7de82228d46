import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classes, Message, methods, parseMessage } from 'werift';
import { iceUfrag, mediaPorts } from '../helpers/sdp.js';
import { BrowserFleet, eventually, newMixerWorld, sleep, type JoinOptions } from '../mixer/harness.js';

/**
 * Datagrams anyone can send to a member's media port: none may end the member's media (RFC 6347 4.1.2.7,
 * RFC 8489 9.2.4). The server's werift is patched for that (patches/werift+0.24.4.patch).
 */
describe('media edge: hostile datagrams on a member media port', () => {
  const world = newMixerWorld();
  const fleet = new BrowserFleet();
  const victim: JoinOptions = { userId: 1, colour: 'red', tone: 400 };
  let offer = '';
  let answer = '';
  let attacker: Socket;
  const received: Buffer[] = [];

  beforeAll(async () => {
    offer = await fleet.offer(victim);
    const member = await world.model.join({ devId: 0, room: 'r', userId: victim.userId, profile: 'grid' });
    answer = await world.mixer.join(member, offer);
    await fleet.call('answer', victim.userId, answer);
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, decode: false });
    attacker = createSocket('udp4');
    attacker.on('message', (datagram) => received.push(datagram));
    await new Promise<void>((resolve) => attacker.bind(0, '127.0.0.1', resolve));
  }, 60_000);

  afterAll(async () => {
    attacker.close();
    await fleet.close();
    await world.mixer.close();
  });

  /** The victim decodes the mix now: pictures keep arriving over a second. */
  const mixFlowing = async (): Promise<void> => {
    const from = Date.now();
    await sleep(1000);
    const { count } = await fleet.call('frames', victim.userId, from, Date.now());
    expect(count, 'pictures the victim decoded in the last second').toBeGreaterThan(3);
  };

  const send = async (datagram: Buffer): Promise<void> => {
    for (const port of mediaPorts(answer)) await new Promise<void>((resolve, reject) => attacker.send(datagram, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  };

  it('keeps a member media flowing after an unknown record type, plaintext and forged alerts, and forged application data', async () => {
    await eventually(mixFlowing, 20_000);
    // An unknown content type (0x19) at epoch 0, empty.
    await send(Buffer.concat([Buffer.from([0x19]), Buffer.alloc(12)]));
    // close_notify in the clear (epoch 0), as only the handshake may send records.
    await send(dtlsRecord(21, 0, Buffer.from([1, 0])));
    // close_notify at the session's epoch, but not encrypted under its keys.
    await send(dtlsRecord(21, 1, Buffer.concat([Buffer.from([1, 0]), randomBytes(30)])));
    // Application data and a fatal alert that do not authenticate.
    await send(dtlsRecord(23, 1, randomBytes(40)));
    await send(dtlsRecord(21, 1, Buffer.concat([Buffer.from([2, 40]), randomBytes(30)])));
    // Unpatched, the leg's sending stops for good at the first of these; a loaded machine may only slow it.
    await eventually(mixFlowing, 10_000);
    expect(await world.model.findMembers(0, { rooms: ['r'], userIds: [victim.userId] })).toHaveLength(1);
  }, 60_000);

  it('answers a STUN check with a wrong MESSAGE-INTEGRITY with no success, and sends no checks of its own to its sender', async () => {
    received.length = 0;
    const request = new Message(methods.BINDING, classes.REQUEST)
      .setAttribute('USERNAME', `${iceUfrag(answer)}:${iceUfrag(offer)}`)
      .setAttribute('PRIORITY', 1_853_824_767)
      .setAttribute('ICE-CONTROLLING', 1n)
      .setAttribute('USE-CANDIDATE', null)
      .addMessageIntegrity(Buffer.from('not the password of this leg'))
      .addFingerprint();
    await send(request.bytes);
    // A request that lacks MESSAGE-INTEGRITY altogether.
    await send(new Message(methods.BINDING, classes.REQUEST).setAttribute('USERNAME', `${iceUfrag(answer)}:${iceUfrag(offer)}`).addFingerprint().bytes);
    // Triggered checks would start at once and be retried for seconds.
    await sleep(1500);
    const stun = received.map((datagram) => parseMessage(datagram)).filter((message) => message !== undefined);
    expect(stun.filter((message) => message.messageClass === classes.RESPONSE), 'binding successes').toEqual([]);
    expect(stun.filter((message) => message.messageClass === classes.REQUEST), 'checks sent to the attacker').toEqual([]);
    // RFC 8489 9.2.4: 401 for the wrong MESSAGE-INTEGRITY, 400 for none.
    expect(stun.map((message) => message.getAttributeValue('ERROR-CODE')?.[0])).toEqual([401, 400]);
    await eventually(mixFlowing, 10_000);
  }, 30_000);
});

/** A DTLS 1.2 record: type, version, epoch, sequence number, length, fragment (RFC 6347 4.1). */
function dtlsRecord(contentType: number, epoch: number, fragment: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt8(contentType, 0);
  header.writeUInt16BE(0xfefd, 1);
  header.writeUInt16BE(epoch, 3);
  header.writeUIntBE(1000 + Math.floor(Math.random() * 1000), 7, 4);
  header.writeUInt16BE(fragment.length, 11);
  return Buffer.concat([header, fragment]);
}
