import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { H264Depacketizer, Vp8Depacketizer, type Depacketizer } from '../../mixer/rtp/depacketizer.js';
import { buildRtp, parseRtp } from '../helpers/rtp.js';
import { annexBNalUnits, MAX_RTP_PAYLOAD, packetizeH264, packetizeVp8 } from '../../mixer/rtp/packetizer.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';

/**
 * The packetizers cut what our encoders produce, but the H.264 one reads Annex B to do it: start codes of 3 and
 * 4 bytes, zeros, empty and unsendable NAL units anywhere. Whatever the input, they never throw, no payload is
 * larger than MAX_RTP_PAYLOAD, and the depacketizer on the far side rebuilds exactly what was meant to go.
 */

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));

/** Annex B built from pieces a hostile or broken stream could hold, long NAL units included. */
const annexB = fc
  .array(
    fc.oneof(
      fc.constant(Buffer.from([0, 0, 1])),
      fc.constant(Buffer.from([0, 0, 0, 1])),
      fc.integer({ min: 1, max: 3 }).map((count) => Buffer.alloc(count)),
      fc.tuple(fc.integer({ min: 0, max: 255 }), bytes(40)).map(([header, rest]) => Buffer.concat([Buffer.from([0, 0, 1, header]), rest])),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: MAX_RTP_PAYLOAD - 4, max: 3 * MAX_RTP_PAYLOAD }), fc.integer({ min: 1, max: 255 }))
        .map(([header, length, fill]) => Buffer.concat([Buffer.from([0, 0, 1, header]), Buffer.alloc(length, fill)])),
      bytes(20),
    ),
    { maxLength: 30 },
  )
  .map((pieces) => Buffer.concat(pieces));

/** Payloads → RTP (marker on the last) → the depacketizer, told not to wait for a keyframe. */
function depacketized(payloads: Buffer[], depacketizer: Depacketizer): Buffer | undefined {
  depacketizer.needsKeyframe = false;
  let frame: Buffer | undefined;
  payloads.forEach((payload, index) => {
    expect(payload.length).toBeLessThanOrEqual(MAX_RTP_PAYLOAD);
    const last = index === payloads.length - 1;
    const out = depacketizer.push(parseRtp(buildRtp({ marker: last, payloadType: 96, sequence: index, timestamp: 1, ssrc: 1 }, payload))!);
    if (last) frame = out?.data;
    else expect(out).toBeUndefined();
  });
  return frame;
}

describe('fuzz: RTP packetizing', () => {
  it(
    'packetizes any VP8 frame into payloads that rebuild it',
    () =>
      fuzz('vp8-packetizer', fc.tuple(bytes(4 * MAX_RTP_PAYLOAD), fc.nat()), ([frame, pictureId]) => {
        const payloads = packetizeVp8(frame, pictureId);
        payloads.forEach((payload, index) => {
          expect(payload[0]).toBe(index === 0 ? 0x90 : 0x80);
          expect(payload.readUInt16BE(2)).toBe(0x8000 | (pictureId & 0x7fff));
        });
        if (frame.length === 0) expect(payloads).toEqual([]);
        else expect(depacketized(payloads, new Vp8Depacketizer())?.equals(frame)).toBe(true);
      }),
    fuzzTimeoutMs(),
  );

  it(
    'packetizes any Annex B into payloads that rebuild its sendable NAL units',
    () =>
      fuzz('h264-packetizer', annexB, (accessUnit) => {
        const sendable = annexBNalUnits(accessUnit).filter((unit) => (unit[0]! & 0x1f) !== 0 && (unit[0]! & 0x1f) < 24);
        for (const unit of sendable) expect(unit.at(-1), 'a NAL unit ends with a non-zero byte').not.toBe(0);
        const payloads = packetizeH264(accessUnit);
        if (sendable.length === 0) return expect(payloads).toEqual([]);
        const frame = depacketized(payloads, new H264Depacketizer());
        expect(frame).toBeDefined();
        // What comes out: the same NAL units, then the depacketizer's access unit delimiter.
        expect(annexBNalUnits(frame!)).toEqual([...sendable, Buffer.from([0x09, 0xf0])]);
      }),
    fuzzTimeoutMs(),
  );
});
