import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { VideoEncoder, type EncodedVideoFrame } from '../../mixer/encoders/videoEncoder.js';
import { H264Depacketizer, isH264KeyframeStart, isVp8KeyframeStart, Vp8Depacketizer, type Depacketizer, type EncodedFrame } from '../../mixer/rtp/depacketizer.js';
import { buildRtp, parseRtp } from '../helpers/rtp.js';
import { annexBNalUnits, MAX_RTP_PAYLOAD, packetizeH264, packetizeVp8 } from '../../mixer/rtp/packetizer.js';
import type { VideoCodec } from '../../src/domain.js';
import { until } from '../sip/until.js';

const VP8_DESCRIPTOR = 4;
const VP8_CHUNK = MAX_RTP_PAYLOAD - VP8_DESCRIPTOR;

let sequence = 0;

/** Payloads → RTP packets (marker on the last) → parsed → depacketized: the frame, put out on the last packet only. */
function throughRtp(payloads: Buffer[], depacketizer: Depacketizer, timestamp: number): EncodedFrame | undefined {
  let frame: EncodedFrame | undefined;
  payloads.forEach((payload, index) => {
    const last = index === payloads.length - 1;
    const packet = buildRtp({ marker: last, payloadType: 96, sequence: sequence++, timestamp, ssrc: 7 }, payload);
    expect(packet.length).toBeLessThanOrEqual(1200);
    const fields = parseRtp(packet);
    expect(fields).toBeDefined();
    const out = depacketizer.push(fields!);
    if (last) frame = out;
    else expect(out).toBeUndefined();
  });
  return frame;
}

/** A VP8 frame of `length` random bytes; a keyframe has bit 0 of its first byte clear. */
function vp8Frame(length: number, keyframe: boolean): Buffer {
  const frame = randomBytes(length);
  frame[0] = keyframe ? frame[0]! & 0xfe : frame[0]! | 0x01;
  return frame;
}

/** A NAL unit: its header byte, then random bytes without start-code emulation (no zero bytes at all). */
function nalUnit(header: number, length: number): Buffer {
  const unit = randomBytes(length);
  for (let index = 0; index < unit.length; index++) unit[index] ||= 1;
  unit[0] = header;
  return unit;
}

const annexB = (units: Buffer[], startCode = Buffer.from([0, 0, 0, 1])): Buffer => Buffer.concat(units.flatMap((unit) => [startCode, unit]));
const ACCESS_UNIT_DELIMITER = Buffer.from([0x09, 0xf0]);
const SPS = nalUnit(0x67, 12);
const PPS = nalUnit(0x68, 4);

describe('VP8 packetizer (RFC 7741)', () => {
  for (const [name, length] of [
    ['1 byte', 1],
    ['exactly one packet', VP8_CHUNK],
    ['one byte over one packet', VP8_CHUNK + 1],
    ['many packets', VP8_CHUNK * 40 + 17],
  ] as const) {
    it(`round-trips a frame of ${name} (${length} bytes) through RTP and the depacketizer`, () => {
      const depacketizer = new Vp8Depacketizer();
      const keyframe = vp8Frame(length, true);
      const payloads = packetizeVp8(keyframe, 0x1234);
      expect(payloads).toHaveLength(Math.ceil(length / VP8_CHUNK));
      payloads.forEach((payload, index) => {
        expect(payload.length).toBeLessThanOrEqual(MAX_RTP_PAYLOAD);
        // X=1, S only on the first, PID 0; I=1; M=1 and the 15-bit PictureID.
        expect([...payload.subarray(0, 4)]).toEqual([index === 0 ? 0x90 : 0x80, 0x80, 0x80 | 0x12, 0x34]);
      });
      expect(isVp8KeyframeStart(payloads[0]!)).toBe(true);
      const frame = throughRtp(payloads, depacketizer, 9000);
      expect(frame?.data.equals(keyframe)).toBe(true);
      expect(frame?.keyframe).toBe(true);
      expect(frame?.timestamp).toBe(9000);

      const interframe = vp8Frame(length, false);
      const next = throughRtp(packetizeVp8(interframe, 0x1235), depacketizer, 12000);
      expect(next?.data.equals(interframe)).toBe(true);
      expect(next?.keyframe).toBe(false);
    });
  }

  it('keeps the PictureID to 15 bits, and has nothing to send for an empty frame', () => {
    const [payload] = packetizeVp8(vp8Frame(10, true), 0x8000 + 5);
    expect(payload!.readUInt16BE(2)).toBe(0x8000 | 5);
    expect(packetizeVp8(Buffer.alloc(0), 1)).toEqual([]);
  });
});

describe('H.264 packetizer (RFC 6184, packetization mode 1)', () => {
  /** The depacketizer's Annex B, as NAL units: the input's units, then its access unit delimiter. */
  function roundTrip(units: Buffer[], accessUnit = annexB(units)): Buffer[] {
    const payloads = packetizeH264(accessUnit);
    for (const payload of payloads) expect(payload.length).toBeLessThanOrEqual(MAX_RTP_PAYLOAD);
    const depacketizer = new H264Depacketizer();
    depacketizer.needsKeyframe = false; // most of these access units are no keyframes, which it would wait for
    const frame = throughRtp(payloads, depacketizer, 3000);
    expect(frame, 'a frame out of the depacketizer').toBeDefined();
    const out = annexBNalUnits(frame!.data);
    expect(out.at(-1)).toEqual(ACCESS_UNIT_DELIMITER);
    expect(out.slice(0, -1)).toEqual(units);
    return payloads;
  }

  it('sends SPS and PPS in one STAP-A and fragments a large IDR into FU-As', () => {
    const idr = nalUnit(0x65, 20_000);
    const payloads = roundTrip([SPS, PPS, idr]);
    expect(payloads[0]![0]! & 0x1f, 'STAP-A').toBe(24);
    expect(payloads[0]![0]! & 0x60, 'NRI of the SPS').toBe(0x60);
    expect(isH264KeyframeStart(payloads[0]!)).toBe(true);
    const fragments = payloads.slice(1);
    expect(fragments).toHaveLength(Math.ceil((idr.length - 1) / (MAX_RTP_PAYLOAD - 2)));
    for (const [index, fragment] of fragments.entries()) {
      expect(fragment[0], 'FU indicator: NRI of the IDR, type 28').toBe(0x60 | 28);
      expect(fragment[1], 'FU header').toBe((index === 0 ? 0x80 : 0) | (index === fragments.length - 1 ? 0x40 : 0) | 5);
    }
  });

  it('sends a NAL unit of exactly the largest payload alone, and one a byte larger in two FU-As', () => {
    const fits = nalUnit(0x41, MAX_RTP_PAYLOAD);
    const [single] = roundTrip([fits]);
    expect(single!.equals(fits)).toBe(true);
    const over = nalUnit(0x41, MAX_RTP_PAYLOAD + 1);
    expect(roundTrip([over]).map((payload) => payload[0]! & 0x1f)).toEqual([28, 28]);
  });

  it('sends a 1-byte NAL unit alone', () => {
    const unit = Buffer.from([0x41]);
    expect(roundTrip([unit])).toEqual([unit]);
  });

  it('splits many small NAL units into several STAP-As, each within the largest payload', () => {
    const units = Array.from({ length: 40 }, () => nalUnit(0x41, 100));
    const payloads = roundTrip(units);
    expect(payloads.length).toBe(4);
    expect(payloads.every((payload) => (payload[0]! & 0x1f) === 24)).toBe(true);
  });

  it('reads 3- and 4-byte start codes, trailing zeros, empty NAL units and bytes before the first start code', () => {
    const slice = nalUnit(0x41, 3000);
    const accessUnit = Buffer.concat([
      Buffer.from([0xaa, 0xbb]), // not a NAL unit
      Buffer.from([0, 0, 1]), SPS, Buffer.from([0, 0]), // trailing_zero_8bits
      Buffer.from([0, 0, 0, 1]), Buffer.from([0, 0, 1]), // an empty NAL unit
      PPS,
      Buffer.from([0, 0, 1]), slice,
    ]);
    roundTrip([SPS, PPS, slice], accessUnit);
    expect(packetizeH264(Buffer.from([0, 0, 0, 1]))).toEqual([]);
    expect(packetizeH264(Buffer.alloc(0))).toEqual([]);
  });

  it('leaves out NAL unit types that an RTP receiver would read as aggregates or fragments (0, 24-31)', () => {
    const slice = nalUnit(0x41, 50);
    roundTrip([slice], annexB([nalUnit(0x78, 20), slice, nalUnit(0x7c, 3000), nalUnit(0x60, 10)]));
  });
});

describe('packetizers on what the encoder produces', () => {
  const log = pino({ level: 'silent' });
  const encoders: VideoEncoder[] = [];
  afterAll(() => Promise.all(encoders.map((encoder) => encoder.close())));

  for (const codec of ['VP8', 'H264'] as VideoCodec[]) {
    it(`round-trips ${codec} frames of a 640x360 picture through RTP`, async () => {
      const frames: EncodedVideoFrame[] = [];
      const size = { width: 640, height: 360 };
      const encoder = new VideoEncoder({ codec, size, fps: 15, bitrateKbps: 800, log, onFrame: (frame) => frames.push(frame) });
      encoders.push(encoder);
      const canvas = Buffer.alloc((size.width * size.height * 3) / 2, 128);
      for (let index = 0; index < 5; index++) {
        await until(() => encoder.ready);
        randomBytes(size.width * size.height).copy(canvas); // noise: keyframes of many packets
        encoder.encode(canvas, index * 6000);
      }
      await until(() => frames.length === 5);
      const depacketizer = codec === 'VP8' ? new Vp8Depacketizer() : new H264Depacketizer();
      for (const [index, frame] of frames.entries()) {
        const payloads = codec === 'VP8' ? packetizeVp8(frame.data, index) : packetizeH264(frame.data);
        if (index === 0) expect(payloads.length, 'a keyframe of noise: many packets').toBeGreaterThan(3);
        const out = throughRtp(payloads, depacketizer, frame.timestamp);
        expect(out?.keyframe).toBe(frame.keyframe);
        if (codec === 'VP8') expect(out?.data.equals(frame.data)).toBe(true);
        else expect(annexBNalUnits(out!.data).slice(0, -1)).toEqual(annexBNalUnits(frame.data));
      }
    });
  }
});
