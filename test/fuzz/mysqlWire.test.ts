import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSslRequest, parseHandshakeResponse } from '../../cometql/handshake.js';
import { Capability, PacketReader, type OversizedPacket, type Packet } from '../../cometql/wire.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';

/**
 * The MySQL packet reader and the handshake parser, in process, on hostile bytes: they never throw what the
 * connection does not expect (the parser: RangeError only), never loop, and never hand on more than allowed.
 */

/** Reads packets as the connection does: without resync it stops at the first oversized packet (and refuses the client). */
function readAll(chunks: readonly Uint8Array[], maxPayload: number, resync: boolean): (Packet | OversizedPacket)[] {
  const reader = new PacketReader(maxPayload, resync);
  const packets: (Packet | OversizedPacket)[] = [];
  for (const chunk of chunks) {
    reader.push(Buffer.from(chunk));
    let packet: Packet | OversizedPacket | undefined;
    while ((packet = reader.next())) {
      packets.push(packet);
      if ('oversized' in packet && !resync) return packets;
    }
    // Memory stays bounded: what is kept is at most one packet in the making and its header.
    expect(reader.buffered).toBeLessThanOrEqual(maxPayload + 4);
  }
  return packets;
}

/** A packet header (length, sequence) then bytes: lengths near the limit and the 16 MiB continuation mark. */
const framed = fc
  .record({
    length: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constantFrom(0xff_ff_ff, 0xff_ff_fe, 0x1_00_00)),
    sequence: fc.integer({ min: 0, max: 255 }),
    body: fc.uint8Array({ maxLength: 80 }),
  })
  .map(({ length, sequence, body }) => {
    const header = Buffer.alloc(4);
    header.writeUIntLE(length, 0, 3);
    header[3] = sequence;
    return Buffer.concat([header, body]);
  });

const stream = fc.array(fc.oneof(framed, fc.uint8Array({ maxLength: 40 })), { maxLength: 12 });

/** A HandshakeResponse41 with any capabilities and fields of any length, or none at all. */
const handshakeResponse = fc
  .record({
    capabilities: fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.constant(Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH)),
    user: fc.uint8Array({ maxLength: 20 }),
    authLength: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0xfb, 0xfc, 0xfd, 0xfe, 0xff)),
    rest: fc.uint8Array({ maxLength: 60 }),
    cut: fc.nat(),
  })
  .map(({ capabilities, user, authLength, rest, cut }) => {
    const head = Buffer.alloc(32);
    head.writeUInt32LE(capabilities >>> 0, 0);
    const whole = Buffer.concat([head, Buffer.from(user), Buffer.from([0, authLength]), Buffer.from(rest)]);
    return whole.subarray(0, cut % (whole.length + 1));
  });

describe('fuzzing the MySQL wire code', () => {
  it(
    'the packet reader: chunking never changes what is read, and nothing over the limit is handed on',
    async () => {
      await fuzz(
        'mysql-packet-reader',
        fc.record({ chunks: stream, maxPayload: fc.integer({ min: 0, max: 100 }), resync: fc.boolean(), splits: fc.array(fc.nat(), { maxLength: 8 }) }),
        ({ chunks, maxPayload, resync, splits }) => {
          const whole = Buffer.concat(chunks.map((chunk) => Buffer.from(chunk)));
          const cuts = [...new Set(splits.map((split) => split % (whole.length + 1)))].sort((a, b) => a - b);
          const pieces = [0, ...cuts].map((start, i) => whole.subarray(start, [...cuts, whole.length][i]));
          const packets = readAll(pieces, maxPayload, resync);
          expect(packets).toEqual(readAll([whole], maxPayload, resync));
          for (const packet of packets) if ('payload' in packet) expect(packet.payload.length).toBeLessThanOrEqual(maxPayload);
        },
      );
    },
    fuzzTimeoutMs(),
  );

  it(
    'the handshake parser: a response or a RangeError, whatever the bytes',
    async () => {
      await fuzz('mysql-handshake-response', fc.oneof(handshakeResponse, fc.uint8Array({ maxLength: 120 })), (bytes) => {
        const payload = Buffer.from(bytes);
        expect(typeof isSslRequest(payload)).toBe('boolean');
        try {
          const response = parseHandshakeResponse(payload);
          expect(response.authResponse.length).toBeLessThanOrEqual(payload.length);
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
        }
      });
    },
    fuzzTimeoutMs(),
  );
});
