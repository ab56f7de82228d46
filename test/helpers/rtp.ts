// RTP packets as bytes, for test members and fuzz targets: what werift parses and serializes for the server.
import type { RtpFields } from '../../mixer/rtp/packet.js';

/** Parses an RTP packet; undefined for anything that is not RTP version 2 (RTCP included). */
export function parseRtp(packet: Buffer): RtpFields | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  const payloadType = packet[1]! & 0x7f;
  // RTCP shares the port when muxed: its packet types 200-204 read as RTP payload types 72-76 with the marker.
  if (payloadType >= 72 && payloadType <= 76) return undefined;
  let offset = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  let end = packet.length;
  if (packet[0]! & 0x20) end -= packet[packet.length - 1]!;
  if (offset > end) return undefined;
  return {
    marker: (packet[1]! & 0x80) !== 0,
    payloadType,
    sequence: packet.readUInt16BE(2),
    timestamp: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8),
    payload: packet.subarray(offset, end),
  };
}

/** A plain RTP packet (no CSRC, no extension). */
export function buildRtp(fields: Omit<RtpFields, 'payload'>, payload: Buffer): Buffer {
  const packet = Buffer.allocUnsafe(12 + payload.length);
  packet[0] = 0x80;
  packet[1] = (fields.marker ? 0x80 : 0) | (fields.payloadType & 0x7f);
  packet.writeUInt16BE(fields.sequence & 0xffff, 2);
  packet.writeUInt32BE(fields.timestamp >>> 0, 4);
  packet.writeUInt32BE(fields.ssrc >>> 0, 8);
  payload.copy(packet, 12);
  return packet;
}
