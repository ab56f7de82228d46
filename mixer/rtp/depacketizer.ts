import type { RtpFields } from './packet.js';

/** One encoded picture, reassembled from its RTP packets. */
export interface EncodedFrame {
  data: Buffer;
  keyframe: boolean;
  timestamp: number;
}

/** Larger than any picture a browser sends (a 1080p keyframe is well under 1 MiB). */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * Reassembles frames from packets given in sequence order. After a loss every frame is dropped until
 * the next keyframe (a decoder fed a broken reference only produces garbage); `needsKeyframe` tells
 * the caller to ask the sender for one. A frame that grows past MAX_FRAME_BYTES (a sender that never
 * marks an end) is dropped as a loss, so what is held stays bounded.
 */
export abstract class Depacketizer {
  needsKeyframe = true;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private partsKeyframe = false;
  private inFrame = false;

  push(packet: RtpFields): EncodedFrame | undefined {
    const unit = this.unpack(packet.payload);
    if (!unit) return undefined;
    // Codecs without a start flag (H.264) begin a frame with the first packet after a marker.
    if (unit.frameStart ?? !this.inFrame) {
      this.parts = [];
      this.partsBytes = 0;
      this.partsKeyframe = false;
      this.inFrame = true;
    }
    if (!this.inFrame) return undefined;
    for (const chunk of unit.chunks) this.partsBytes += chunk.length;
    if (this.partsBytes > MAX_FRAME_BYTES) {
      this.lost();
      return undefined;
    }
    this.parts.push(...unit.chunks);
    this.partsKeyframe ||= unit.keyframe;
    if (!packet.marker) return undefined;
    this.inFrame = false;
    if (this.needsKeyframe && !this.partsKeyframe) return undefined;
    this.needsKeyframe = false;
    return { data: this.frame(this.parts), keyframe: this.partsKeyframe, timestamp: packet.timestamp };
  }

  lost(): void {
    this.needsKeyframe = true;
    this.inFrame = false;
    this.parts = [];
    this.partsBytes = 0;
  }

  /** The payload's bytes for the frame, whether it starts a frame (if the codec says), whether it shows a keyframe. */
  protected abstract unpack(payload: Buffer): { chunks: Buffer[]; frameStart?: boolean; keyframe: boolean } | undefined;
  protected abstract frame(parts: Buffer[]): Buffer;
}

/** Where the VP8 payload starts after the RFC 7741 payload descriptor, and whether it starts a frame. */
function vp8Descriptor(payload: Buffer): { offset: number; frameStart: boolean } | undefined {
  if (payload.length < 1) return undefined;
  let offset = 1;
  if (payload[0]! & 0x80) {
    const extension = payload[1] ?? 0;
    offset = 2;
    if (extension & 0x80) offset += (payload[offset] ?? 0) & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (extension & 0x40) offset += 1; // TL0PICIDX
    if (extension & 0x30) offset += 1; // TID / KEYIDX
  }
  if (offset > payload.length) return undefined;
  return { offset, frameStart: (payload[0]! & 0x10) !== 0 && (payload[0]! & 0x07) === 0 };
}

/** True if the packet begins a VP8 keyframe (P bit 0 in the first payload byte of the frame). */
export function isVp8KeyframeStart(payload: Buffer): boolean {
  const descriptor = vp8Descriptor(payload);
  return !!descriptor && descriptor.frameStart && payload.length > descriptor.offset && (payload[descriptor.offset]! & 0x01) === 0;
}

export class Vp8Depacketizer extends Depacketizer {
  protected unpack(payload: Buffer) {
    const descriptor = vp8Descriptor(payload);
    if (!descriptor) return undefined;
    return { chunks: [payload.subarray(descriptor.offset)], frameStart: descriptor.frameStart, keyframe: isVp8KeyframeStart(payload) };
  }

  protected frame(parts: Buffer[]): Buffer {
    return Buffer.concat(parts);
  }
}

const START_CODE = Buffer.from([0, 0, 0, 1]);
/** An access unit delimiter after each frame tells FFmpeg's parser the frame is complete (saves a frame of delay). */
const ACCESS_UNIT_DELIMITER = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
const NAL_IDR = 5;
const NAL_SPS = 7;
const STAP_A = 24;
const FU_A = 28;

/** NAL unit types a payload carries (for keyframe detection). */
function nalTypes(payload: Buffer): number[] {
  const type = (payload[0] ?? 0) & 0x1f;
  if (type === STAP_A) {
    const types: number[] = [];
    for (let offset = 1; offset + 2 < payload.length; ) {
      const size = payload.readUInt16BE(offset);
      types.push(payload[offset + 2]! & 0x1f);
      offset += 2 + size;
    }
    return types;
  }
  if (type === FU_A) return payload.length > 1 && payload[1]! & 0x80 ? [payload[1]! & 0x1f] : [];
  return [type];
}

/** True if the packet begins an H.264 keyframe: an SPS or IDR slice at the start of an access unit. */
export function isH264KeyframeStart(payload: Buffer): boolean {
  const types = nalTypes(payload);
  return types[0] === NAL_SPS || types[0] === NAL_IDR;
}

/** RFC 6184 packetization mode 1 (single NAL, STAP-A, FU-A) to an Annex-B access unit. */
export class H264Depacketizer extends Depacketizer {
  private fragmentStarted = false;

  protected unpack(payload: Buffer) {
    if (payload.length < 1) return undefined;
    const type = payload[0]! & 0x1f;
    const keyframe = nalTypes(payload).some((t) => t === NAL_IDR || t === NAL_SPS);
    if (type === STAP_A) {
      const chunks: Buffer[] = [];
      for (let offset = 1; offset + 2 <= payload.length; ) {
        const size = payload.readUInt16BE(offset);
        if (offset + 2 + size > payload.length) return undefined;
        chunks.push(START_CODE, payload.subarray(offset + 2, offset + 2 + size));
        offset += 2 + size;
      }
      return { chunks, keyframe };
    }
    if (type === FU_A) {
      if (payload.length < 2) return undefined;
      const start = (payload[1]! & 0x80) !== 0;
      if (start) {
        this.fragmentStarted = true;
        const header = Buffer.from([(payload[0]! & 0xe0) | (payload[1]! & 0x1f)]);
        return { chunks: [START_CODE, header, payload.subarray(2)], keyframe };
      }
      if (!this.fragmentStarted) return undefined;
      if (payload[1]! & 0x40) this.fragmentStarted = false;
      return { chunks: [payload.subarray(2)], keyframe };
    }
    return { chunks: [START_CODE, payload], keyframe };
  }

  protected frame(parts: Buffer[]): Buffer {
    return Buffer.concat([...parts, ACCESS_UNIT_DELIMITER]);
  }
}
