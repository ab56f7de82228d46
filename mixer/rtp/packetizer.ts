/** Largest RTP payload we send (today's FFmpeg used pkt_size=1200 for the whole packet; keep packets <= 1200 bytes with the 12-byte header). */
export const MAX_RTP_PAYLOAD = 1200 - 12;

/** RFC 7741 descriptor: X=1, S on the first packet, PID 0; then I=1 and a 15-bit PictureID (M=1). */
const VP8_DESCRIPTOR_BYTES = 4;
const VP8_EXTENDED = 0x80;
const VP8_START = 0x10;
const VP8_PICTURE_ID_PRESENT = 0x80;
const VP8_PICTURE_ID_15_BITS = 0x80;

/** RFC 7741 payloads for one VP8 frame: payload descriptor with S=1 on the first packet, PID 0; include a 15-bit PictureID (X=1, I=1, M=1) that the caller passes and increments per frame — browsers use it for loss detection. */
export function packetizeVp8(frame: Buffer, pictureId: number): Buffer[] {
  if (frame.length === 0) return [];
  const chunk = MAX_RTP_PAYLOAD - VP8_DESCRIPTOR_BYTES;
  const count = Math.ceil(frame.length / chunk);
  // One allocation for the frame's payloads, each a slice of it.
  const slab = Buffer.allocUnsafe(frame.length + count * VP8_DESCRIPTOR_BYTES);
  const payloads: Buffer[] = [];
  for (let index = 0, slabOffset = 0; index < count; index++) {
    const start = index * chunk;
    const end = Math.min(start + chunk, frame.length);
    const payload = slab.subarray(slabOffset, slabOffset + VP8_DESCRIPTOR_BYTES + end - start);
    payload[0] = VP8_EXTENDED | (index === 0 ? VP8_START : 0);
    payload[1] = VP8_PICTURE_ID_PRESENT;
    payload[2] = VP8_PICTURE_ID_15_BITS | ((pictureId >> 8) & 0x7f);
    payload[3] = pictureId & 0xff;
    frame.copy(payload, VP8_DESCRIPTOR_BYTES, start, end);
    payloads.push(payload);
    slabOffset += payload.length;
  }
  return payloads;
}

const START_CODE = Buffer.from([0, 0, 1]);
const STAP_A = 24;
const FU_A = 28;
const STAP_A_HEADER_BYTES = 1;
const STAP_A_SIZE_BYTES = 2;
const FU_A_HEADER_BYTES = 2;
const NAL_FORBIDDEN = 0x80;
const NAL_NRI = 0x60;
const NAL_TYPE = 0x1f;
const FU_START = 0x80;
const FU_END = 0x40;

/**
 * The NAL units of an Annex-B stream, as views of it: split at 3- and 4-byte start codes, the zero bytes before
 * a start code (trailing_zero_8bits, or a 4-byte start code's first byte) left out. Bytes before the first start
 * code are not a NAL unit; empty units are skipped.
 */
export function annexBNalUnits(stream: Buffer): Buffer[] {
  const units: Buffer[] = [];
  let start = stream.indexOf(START_CODE);
  while (start >= 0) {
    const begin = start + START_CODE.length;
    const next = stream.indexOf(START_CODE, begin);
    let end = next < 0 ? stream.length : next;
    // A NAL unit never ends with a zero byte: the zeros are the next start code's or padding.
    while (end > begin && stream[end - 1] === 0) end--;
    if (end > begin) units.push(stream.subarray(begin, end));
    start = next;
  }
  return units;
}

/**
 * RFC 6184 payloads (packetization-mode 1) for one Annex-B access unit: each NAL unit alone when it fits, FU-A fragments when it does not (STAP-A for SPS+PPS+small NALs is welcome but optional). Empty NAL units are skipped.
 * So are NAL unit types RTP cannot carry alone (0, 24-31). A payload of a single NAL unit is a view of `accessUnit` (not copied).
 */
export function packetizeH264(accessUnit: Buffer): Buffer[] {
  const payloads: Buffer[] = [];
  let group: Buffer[] = [];
  let groupBytes = STAP_A_HEADER_BYTES;
  const flushGroup = (): void => {
    if (group.length === 1) payloads.push(group[0]!);
    else if (group.length > 1) payloads.push(stapA(group, groupBytes));
    group = [];
    groupBytes = STAP_A_HEADER_BYTES;
  };
  for (const unit of annexBNalUnits(accessUnit)) {
    // Types 0 and 24-31 are unspecified in H.264 and mean STAP/MTAP/FU to an RTP receiver: never sent as such.
    const type = unit[0]! & NAL_TYPE;
    if (type === 0 || type >= STAP_A) continue;
    if (unit.length > MAX_RTP_PAYLOAD) {
      flushGroup();
      payloads.push(...fuA(unit));
      continue;
    }
    // Small units in a row (SPS, PPS, SEI, small slices) share one packet.
    if (groupBytes + STAP_A_SIZE_BYTES + unit.length > MAX_RTP_PAYLOAD) flushGroup();
    group.push(unit);
    groupBytes += STAP_A_SIZE_BYTES + unit.length;
  }
  flushGroup();
  return payloads;
}

function stapA(units: Buffer[], bytes: number): Buffer {
  const payload = Buffer.allocUnsafe(bytes);
  // F if any unit has it, the highest NRI of the units (RFC 6184 5.7).
  let forbidden = 0;
  let nri = 0;
  for (const unit of units) {
    forbidden |= unit[0]! & NAL_FORBIDDEN;
    nri = Math.max(nri, unit[0]! & NAL_NRI);
  }
  payload[0] = forbidden | nri | STAP_A;
  let offset = STAP_A_HEADER_BYTES;
  for (const unit of units) {
    payload.writeUInt16BE(unit.length, offset);
    unit.copy(payload, offset + STAP_A_SIZE_BYTES);
    offset += STAP_A_SIZE_BYTES + unit.length;
  }
  return payload;
}

function fuA(unit: Buffer): Buffer[] {
  const indicator = (unit[0]! & (NAL_FORBIDDEN | NAL_NRI)) | FU_A;
  const type = unit[0]! & NAL_TYPE;
  const body = unit.subarray(1);
  const chunk = MAX_RTP_PAYLOAD - FU_A_HEADER_BYTES;
  const count = Math.ceil(body.length / chunk);
  const slab = Buffer.allocUnsafe(body.length + count * FU_A_HEADER_BYTES);
  const payloads: Buffer[] = [];
  for (let index = 0, slabOffset = 0; index < count; index++) {
    const start = index * chunk;
    const end = Math.min(start + chunk, body.length);
    const payload = slab.subarray(slabOffset, slabOffset + FU_A_HEADER_BYTES + end - start);
    payload[0] = indicator;
    payload[1] = (index === 0 ? FU_START : 0) | (index === count - 1 ? FU_END : 0) | type;
    body.copy(payload, FU_A_HEADER_BYTES, start, end);
    payloads.push(payload);
    slabOffset += payload.length;
  }
  return payloads;
}
