import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Message } from 'werift';
import { iceUfrag, mediaPorts } from '../helpers/sdp.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';
import { useLiveServer, type Leg } from './liveServer.js';

/**
 * Datagrams anyone can send to a live member's media port (STUN, DTLS, RTP/RTCP-shaped, and random bytes)
 * from a socket that is not the member's. None may end or stall the member's media: after each batch the
 * call still flows, both ways, with its content.
 */

/**
 * How long the call may take to show it survived a batch (it takes under half a second unless the machine is
 * loaded). fast-check abandons a run still going when the target's time is up (FUZZ_SECONDS, 2 s in `npm
 * test`), and a target with no run finished fails: this leaves room.
 */
const RUN_PATIENCE_MS = 1500;

/** A batch of datagrams at one member's leg; specs that need the leg's details are built against it when sent. */
interface Batch<T> {
  leg: number;
  datagrams: T[];
}

// Each run watches the call for up to a second and a half; shrinking would repeat that (and rejoin the call it broke)
// hundreds of times, so a failing batch is kept whole. It is short: the culprit is easy to find in it.
const batchOf = <T>(datagram: fc.Arbitrary<T>): fc.Arbitrary<Batch<T>> =>
  fc.noShrink(fc.record({ leg: fc.constantFrom(0, 1), datagrams: fc.array(datagram, { minLength: 1, maxLength: 20 }) }));

const bytes = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength });

/** A STUN message, some with the leg's real ufrags (an attacker who read the SDP) but never its password. */
interface StunSpec {
  method: number;
  messageClass: number;
  username: 'right' | 'swapped' | 'server-half' | string | null;
  priority: number | null;
  role: 'ICE-CONTROLLING' | 'ICE-CONTROLLED' | null;
  /** A 64-bit integer, as a decimal string: regression cases are JSON. */
  tieBreaker: string;
  useCandidate: boolean;
  integrity: 'none' | 'wrong-key' | 'garbage';
  key: Uint8Array;
  fingerprint: boolean;
  raw: { type: number; value: Uint8Array }[];
  truncateTo: number | null;
}

const stunSpec: fc.Arbitrary<StunSpec> = fc.record({
  method: fc.oneof(fc.constantFrom(1, 1, 1, 3, 4, 6, 7, 8, 9), fc.integer({ min: 0, max: 0xfff })),
  messageClass: fc.constantFrom(0x000, 0x010, 0x100, 0x110),
  username: fc.oneof(fc.constantFrom('right', 'swapped', 'server-half', null), fc.string({ maxLength: 40 })),
  priority: fc.option(fc.nat()),
  role: fc.constantFrom('ICE-CONTROLLING' as const, 'ICE-CONTROLLED' as const, null),
  tieBreaker: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  useCandidate: fc.boolean(),
  integrity: fc.constantFrom('none' as const, 'wrong-key' as const, 'garbage' as const),
  key: bytes(32),
  fingerprint: fc.boolean(),
  raw: fc.array(fc.record({ type: fc.integer({ min: 0, max: 0xffff }), value: bytes(64) }), { maxLength: 3 }),
  truncateTo: fc.option(fc.nat({ max: 120 })),
});

function stunDatagram(spec: StunSpec, leg: Leg): Buffer {
  const [server, member] = [iceUfrag(leg.answer), iceUfrag(leg.offer)];
  const usernames = new Map([['right', `${server}:${member}`], ['swapped', `${member}:${server}`], ['server-half', `${server}:`]]);
  const message = new Message(spec.method, spec.messageClass);
  if (spec.username !== null) message.setAttribute('USERNAME', usernames.get(spec.username) ?? spec.username);
  if (spec.priority !== null) message.setAttribute('PRIORITY', spec.priority);
  if (spec.role) message.setAttribute(spec.role, BigInt(spec.tieBreaker));
  if (spec.useCandidate) message.setAttribute('USE-CANDIDATE', null);
  for (const { type, value } of spec.raw) message.appendRawAttribute(type, Buffer.from(value));
  if (spec.integrity === 'wrong-key') message.addMessageIntegrity(Buffer.from(spec.key));
  if (spec.integrity === 'garbage') message.appendRawAttribute(0x0008, Buffer.from(spec.key));
  if (spec.fingerprint) message.addFingerprint();
  const datagram = message.bytes;
  return spec.truncateTo === null ? datagram : datagram.subarray(0, spec.truncateTo);
}

/** DTLS records (RFC 6347 4.1): known and unknown content types, plaintext and forged epochs, lying lengths. */
const dtlsRecord: fc.Arbitrary<Buffer> = fc
  .record({
    contentType: fc.oneof(fc.constantFrom(20, 21, 22, 23), fc.integer({ min: 20, max: 63 })),
    version: fc.oneof(fc.constantFrom(0xfeff, 0xfefd), fc.integer({ min: 0, max: 0xffff })),
    epoch: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 0xffff })),
    sequence: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    fragment: fc.oneof(
      // An alert: level (warning, fatal, other), description, maybe more.
      fc.tuple(fc.constantFrom(1, 2, 0, 255), fc.nat({ max: 255 }), bytes(8)).map(([level, description, tail]) => Buffer.concat([Buffer.from([level, description]), tail])),
      // A handshake message header (type, length, message_seq, fragment offset and length) and a body.
      fc
        .tuple(fc.nat({ max: 255 }), fc.nat({ max: 0xffffff }), fc.nat({ max: 0xffff }), fc.nat({ max: 0xffffff }), fc.nat({ max: 0xffffff }), bytes(64))
        .map(([type, length, sequence, offset, fragmentLength, body]) => {
          const header = Buffer.alloc(12);
          header.writeUInt8(type, 0);
          header.writeUIntBE(length, 1, 3);
          header.writeUInt16BE(sequence, 4);
          header.writeUIntBE(offset, 6, 3);
          header.writeUIntBE(fragmentLength, 9, 3);
          return Buffer.concat([header, body]);
        }),
      bytes(200).map((fragment) => Buffer.from(fragment)),
    ),
    lengthError: fc.oneof(fc.constant(0), fc.integer({ min: -20, max: 20 })),
  })
  .map(({ contentType, version, epoch, sequence, fragment, lengthError }) => {
    const header = Buffer.alloc(13);
    header.writeUInt8(contentType, 0);
    header.writeUInt16BE(version, 1);
    header.writeUInt16BE(epoch, 3);
    header.writeUIntBE(sequence, 5, 6);
    header.writeUInt16BE(Math.max(0, Math.min(0xffff, fragment.length + lengthError)), 11);
    return Buffer.concat([header, fragment]);
  });

const dtlsDatagram: fc.Arbitrary<Buffer> = fc.array(dtlsRecord, { minLength: 1, maxLength: 3 }).map((records) => Buffer.concat(records));

/** RTP or RTCP bytes (RFC 3550), SRTP-protected or not (nothing here knows the keys); the SSRC picked when sent. */
interface RtpSpec {
  packet: Uint8Array;
  /** Where the SSRC field lies in `packet` (RTP: 8, RTCP: 4). */
  ssrcAt: number;
  ssrcFrom: 'member' | 'server' | 'random';
}

const rtpPacket = fc
  .record({
    padding: fc.boolean(),
    extension: fc.boolean(),
    csrcs: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 3 }),
    marker: fc.boolean(),
    payloadType: fc.oneof(fc.constantFrom(96, 102, 111), fc.nat({ max: 127 })),
    sequence: fc.nat({ max: 0xffff }),
    timestamp: fc.nat({ max: 0xffffffff }),
    extensionWords: bytes(12),
    payload: bytes(300),
  })
  .map((rtp) => {
    const header = Buffer.alloc(12 + 4 * rtp.csrcs.length);
    header.writeUInt8(0x80 | (rtp.padding ? 0x20 : 0) | (rtp.extension ? 0x10 : 0) | rtp.csrcs.length, 0);
    header.writeUInt8((rtp.marker ? 0x80 : 0) | rtp.payloadType, 1);
    header.writeUInt16BE(rtp.sequence, 2);
    header.writeUInt32BE(rtp.timestamp, 4);
    rtp.csrcs.forEach((csrc, i) => header.writeUInt32BE(csrc, 12 + 4 * i));
    const extension = rtp.extension ? Buffer.concat([Buffer.from([0xbe, 0xde, 0, rtp.extensionWords.length >> 2]), rtp.extensionWords]) : Buffer.alloc(0);
    return { packet: new Uint8Array(Buffer.concat([header, extension, rtp.payload])), ssrcAt: 8 };
  });

const rtcpPacket = fc
  .record({
    count: fc.nat({ max: 31 }),
    packetType: fc.oneof(fc.integer({ min: 200, max: 207 }), fc.integer({ min: 192, max: 223 })),
    lengthError: fc.oneof(fc.constant(0), fc.integer({ min: -4, max: 4 })),
    body: bytes(120),
  })
  .map(({ count, packetType, lengthError, body }) => {
    const words = Math.ceil(body.length / 4);
    const packet = Buffer.alloc(8 + words * 4);
    packet.writeUInt8(0x80 | count, 0);
    packet.writeUInt8(packetType, 1);
    packet.writeUInt16BE(Math.max(0, Math.min(0xffff, words + 1 + lengthError)), 2);
    packet.set(body, 8);
    return { packet: new Uint8Array(packet), ssrcAt: 4 };
  });

const rtpSpec: fc.Arbitrary<RtpSpec> = fc
  .tuple(fc.oneof(rtpPacket, rtcpPacket), fc.constantFrom('member' as const, 'server' as const, 'random' as const))
  .map(([{ packet, ssrcAt }, ssrcFrom]) => ({ packet, ssrcAt, ssrcFrom }));

function rtpDatagram(spec: RtpSpec, leg: Leg): Buffer {
  const packet = Buffer.from(spec.packet);
  const ssrcs = ssrcsOf(spec.ssrcFrom === 'member' ? leg.offer : leg.answer);
  if (spec.ssrcFrom !== 'random' && ssrcs.length > 0) packet.writeUInt32BE(ssrcs[packet.length % ssrcs.length]!, spec.ssrcAt);
  return packet;
}

describe('fuzzing datagrams at a live member media port', () => {
  const live = useLiveServer();
  let attacker: Socket;
  /** What the server sent the attacker since the batch began. */
  const replies: Buffer[] = [];

  beforeAll(async () => {
    attacker = createSocket('udp4');
    attacker.on('message', (datagram) => void replies.push(datagram));
    await new Promise<void>((resolve) => attacker.bind(0, '127.0.0.1', resolve));
  });
  afterAll(() => attacker?.close());

  /** Sends a batch at the leg's ports; then nothing escaped, the server's replies pass `checkReplies`, and the call flows. */
  const sendBatch = <T>(toDatagram: (spec: T, leg: Leg) => Buffer, checkReplies: (replies: Buffer[]) => void = () => undefined) => live.property(async (batch: Batch<T>) => {
    const leg = live.legs[batch.leg]!;
    const since = Date.now();
    replies.length = 0;
    for (const spec of batch.datagrams) {
      const datagram = toDatagram(spec, leg);
      for (const port of mediaPorts(leg.answer)) {
        await new Promise<void>((resolve, reject) => attacker.send(datagram, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
      }
    }
    await live.expectUnharmed();
    await live.expectCallFlows(since, RUN_PATIENCE_MS);
    checkReplies(replies);
  });

  const asBuffer = (datagram: Uint8Array): Buffer => Buffer.from(datagram);
  const targets: [string, () => Promise<void>][] = [
    ['datagram-stun', () => fuzz('datagram-stun', batchOf(stunSpec), sendBatch(stunDatagram, expectNoTrust))],
    ['datagram-dtls', () => fuzz('datagram-dtls', batchOf(dtlsDatagram), sendBatch(asBuffer))],
    ['datagram-rtp', () => fuzz('datagram-rtp', batchOf(rtpSpec), sendBatch(rtpDatagram))],
    ['datagram-random', () => fuzz('datagram-random', batchOf(bytes(1500)), sendBatch(asBuffer))],
  ];
  for (const [target, run] of targets) {
    it(`${target}: the call flows on and a bystander is served`, async () => {
      await run();
      await live.expectBystandersServed();
    }, fuzzTimeoutMs(60_000));
  }
});

/**
 * None of the batch's STUN requests proves it knows the leg's password, so none earns a success response
 * (RFC 8489 9.2.4: 400 or 401, or nothing), nor makes the server check the attacker's address as a path.
 */
function expectNoTrust(replies: Buffer[]): void {
  const stunType = (datagram: Buffer): number | undefined => (datagram.length >= 20 && datagram.readUInt32BE(4) === 0x2112a442 ? datagram.readUInt16BE(0) : undefined);
  const trusting = replies.filter((datagram) => stunType(datagram) === 0x0101 || stunType(datagram) === 0x0001);
  expect(trusting.map((datagram) => datagram.toString('hex')), 'Binding successes and checks sent to the attacker').toEqual([]);
}

function ssrcsOf(sdp: string): number[] {
  return [...new Set([...sdp.matchAll(/^a=ssrc:(\d+)/gm)].map((match) => Number(match[1])))];
}
