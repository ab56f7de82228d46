import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { H264Depacketizer, MAX_FRAME_BYTES, Vp8Depacketizer, type Depacketizer } from '../../mixer/rtp/depacketizer.js';
import { sequenceDelta, type RtpFields } from '../../mixer/rtp/packet.js';
import { parseRtp } from '../helpers/rtp.js';
import { ReorderBuffer } from '../../mixer/rtp/reorder.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';

/**
 * What a member's browser sends, once SRTP has let it through, is still anyone's bytes: RTP headers, VP8
 * descriptors and H.264 NAL units (single, STAP-A, FU-A) with lying lengths and flags, out of order, from
 * several SSRCs. The RTP reader, the reorder buffer and the depacketizers never throw, hold a bounded amount,
 * and put out frames that keep their promises.
 */

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));

/** An RTP packet: a version-2 header with random flags, CSRCs, extension and padding, or plain bytes. */
const rtpPacket = fc.oneof(
  fc.record({ first: fc.integer({ min: 0x80, max: 0xbf }), second: fc.integer({ min: 0, max: 255 }), rest: bytes(80) }).map(({ first, second, rest }) =>
    Buffer.concat([Buffer.from([first, second]), rest]),
  ),
  bytes(40),
);

/** A VP8 payload: its descriptor's first bytes chosen among the meaningful flags, then anything. */
const vp8Payload = fc
  .tuple(fc.constantFrom(0x10, 0x90, 0x00, 0x80, 0x17, 0xff), fc.constantFrom(0x80, 0xc0, 0xf0, 0x00, 0x20), fc.constantFrom(0x00, 0x80, 0xff), bytes(40))
  .map(([first, extension, pictureId, rest]) => Buffer.concat([Buffer.from([first, extension, pictureId]), rest]))
  .chain((payload) => fc.nat(payload.length).map((length) => payload.subarray(0, length)));

/** An H.264 payload: a single NAL (slice, IDR, SPS, PPS), a STAP-A with lying sizes, or an FU-A piece. */
const h264Payload = fc.oneof(
  fc.tuple(fc.constantFrom(0x61, 0x65, 0x67, 0x68, 0x00, 0x1f), bytes(30)).map(([header, rest]) => Buffer.concat([Buffer.from([header]), rest])),
  fc
    .array(fc.tuple(fc.oneof(fc.nat(8), fc.nat(0xffff)), bytes(8)), { maxLength: 4 })
    .map((units) => Buffer.concat([Buffer.from([0x78]), ...units.map(([size, unit]) => Buffer.concat([Buffer.from([size >> 8, size & 0xff]), unit]))])),
  fc
    .tuple(fc.constantFrom(0x7c, 0x5c), fc.constantFrom(0x85, 0x05, 0x45, 0x81, 0x41, 0x01, 0xc5), bytes(30))
    .map(([indicator, header, rest]) => Buffer.concat([Buffer.from([indicator, header]), rest])),
  bytes(3),
);

type Step = { kind: 'packet'; marker: boolean; payload: Buffer } | { kind: 'lost' };

const steps = (payload: fc.Arbitrary<Buffer>) =>
  fc.array(
    fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('packet' as const), marker: fc.boolean(), payload }), weight: 10 },
      { arbitrary: fc.constant({ kind: 'lost' as const }), weight: 1 },
    ),
    { maxLength: 40 },
  );

/** Frames put out are bounded, and after a loss the first one is a keyframe. */
function depacketizes(depacketizer: Depacketizer, input: Step[]): void {
  let timestamp = 0;
  for (const step of input) {
    if (step.kind === 'lost') {
      depacketizer.lost();
      continue;
    }
    const afterLoss = depacketizer.needsKeyframe;
    const frame = depacketizer.push({ marker: step.marker, payloadType: 96, sequence: 0, timestamp: ++timestamp, ssrc: 1, payload: step.payload });
    if (!frame) continue;
    expect(step.marker).toBe(true);
    expect(frame.data.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frame.timestamp).toBe(timestamp);
    if (afterLoss) expect(frame.keyframe).toBe(true);
  }
}

/** Pushes from a few SSRCs, sequence numbers near each other or anywhere. */
const reorderInput = fc.array(
  fc.record({ ssrc: fc.constantFrom(1, 2, 3), sequence: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffff })) }),
  { maxLength: 200 },
);

const MAX_WAITING = 16;

describe('fuzz: RTP depacketizing', () => {
  it(
    'reads RTP headers without throwing, the payload always inside the packet',
    () =>
      fuzz('rtp-packet', rtpPacket, (packet) => {
        const fields = parseRtp(packet);
        if (!fields) return;
        expect(fields.payload.buffer).toBe(packet.buffer);
        expect(fields.payload.byteOffset).toBeGreaterThanOrEqual(packet.byteOffset + 12);
        expect(fields.payload.byteOffset + fields.payload.length).toBeLessThanOrEqual(packet.byteOffset + packet.length);
      }),
    fuzzTimeoutMs(),
  );

  it('depacketizes any VP8 payloads', () => fuzz('vp8-depacketizer', steps(vp8Payload), (input) => depacketizes(new Vp8Depacketizer(), input)), fuzzTimeoutMs());

  it('depacketizes any H.264 payloads', () => fuzz('h264-depacketizer', steps(h264Payload), (input) => depacketizes(new H264Depacketizer(), input)), fuzzTimeoutMs());

  it(
    'reorders any sequence numbers from any SSRCs: in order between losses, never holding more than its bound',
    () =>
      fuzz('reorder-buffer', reorderInput, (input) => {
        const delivered: RtpFields[] = [];
        let previous: RtpFields | undefined;
        const buffer = new ReorderBuffer(
          (packet) => {
            if (previous) {
              expect(packet.ssrc, 'a new SSRC without a loss reported').toBe(previous.ssrc);
              expect(sequenceDelta(packet.sequence, previous.sequence), 'a gap without a loss reported').toBe(1);
            }
            previous = packet;
            delivered.push(packet);
          },
          () => (previous = undefined),
          80,
          MAX_WAITING,
        );
        try {
          for (const { ssrc, sequence } of input) {
            buffer.push({ marker: false, payloadType: 96, sequence, timestamp: 0, ssrc, payload: Buffer.alloc(0) });
            expect(buffer.held).toBeLessThanOrEqual(MAX_WAITING);
          }
        } finally {
          buffer.close();
        }
      }),
    fuzzTimeoutMs(),
  );
});

describe('a depacketizer fed a frame that never ends', () => {
  for (const [codec, depacketizer, payload] of [
    ['VP8', new Vp8Depacketizer(), (first: boolean) => Buffer.concat([Buffer.from([first ? 0x10 : 0x00, 0x00]), Buffer.alloc(1198)])],
    ['H.264', new H264Depacketizer(), (first: boolean) => Buffer.concat([Buffer.from([0x7c, first ? 0x85 : 0x05]), Buffer.alloc(1198)])],
  ] as const) {
    it(`drops a ${codec} keyframe that grows past ${MAX_FRAME_BYTES} bytes, and asks for another`, () => {
      const count = Math.ceil(MAX_FRAME_BYTES / 1198) + 10;
      for (let index = 0; index < count; index++) {
        const frame = depacketizer.push({ marker: index === count - 1, payloadType: 96, sequence: index, timestamp: 1, ssrc: 1, payload: payload(index === 0) });
        expect(frame).toBeUndefined();
      }
      expect(depacketizer.needsKeyframe).toBe(true);
    });
  }
});
