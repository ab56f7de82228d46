import { describe, expect, it } from 'vitest';
import { PacketReader, ReplyWriter, MAX_PACKET_PAYLOAD } from '../../cometql/wire.js';

const frame = (sequence: number, payload: Buffer): Buffer => {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequence;
  return Buffer.concat([header, payload]);
};

describe('MySQL packet framing', () => {
  it('reassembles packets split across reads and several packets in one read', () => {
    const reader = new PacketReader(1024);
    const bytes = Buffer.concat([frame(0, Buffer.from('\x03SELECT 1')), frame(0, Buffer.from('\x0e'))]);
    reader.push(bytes.subarray(0, 3));
    expect(reader.next()).toBeUndefined();
    reader.push(bytes.subarray(3));
    expect(reader.next()).toEqual({ sequence: 0, payload: Buffer.from('\x03SELECT 1') });
    expect(reader.next()).toEqual({ sequence: 0, payload: Buffer.from('\x0e') });
    expect(reader.next()).toBeUndefined();
  });

  it('joins 16 MiB continuation packets', () => {
    const reader = new PacketReader(20 * 1024 * 1024);
    const big = Buffer.alloc(MAX_PACKET_PAYLOAD + 10, 0x61);
    reader.push(frame(0, big.subarray(0, MAX_PACKET_PAYLOAD)));
    expect(reader.next()).toBeUndefined();
    reader.push(frame(1, big.subarray(MAX_PACKET_PAYLOAD)));
    const packet = reader.next();
    expect(packet && 'payload' in packet && packet.payload.length).toBe(big.length);
  });

  it('skips an oversized packet as it streams in and stays in sync (resync mode)', () => {
    const reader = new PacketReader(100, true);
    const bytes = Buffer.concat([frame(0, Buffer.alloc(5000, 1)), frame(0, Buffer.from('\x0e'))]);
    for (let i = 0; i < bytes.length; i += 700) reader.push(bytes.subarray(i, i + 700));
    expect(reader.next()).toEqual({ sequence: 0, oversized: true });
    expect(reader.next()).toEqual({ sequence: 0, payload: Buffer.from('\x0e') });
    expect(reader.buffered).toBe(0);
  });

  it('reports an oversized packet at its header without resync', () => {
    const reader = new PacketReader(100);
    reader.push(frame(1, Buffer.alloc(10)).subarray(0, 4));
    expect(reader.next()).toBeUndefined();
    const big = new PacketReader(100);
    big.push(Buffer.from([0xff, 0xff, 0x00, 0x01]));
    expect(big.next()).toEqual({ sequence: 1, oversized: true });
  });

  it('writes result sets with continuing sequence ids and length-encoded values', () => {
    const out = new ReplyWriter(1).resultSetHead(['a'], 2).rows([['x'.repeat(300)], [null]]).eof(2).toBuffer();
    const sequences: number[] = [];
    for (let offset = 0; offset < out.length; ) {
      const length = out.readUIntLE(offset, 3);
      sequences.push(out[offset + 3]!);
      if (sequences.length === 4) expect(out.subarray(offset + 4, offset + 7)).toEqual(Buffer.from([0xfc, 0x2c, 0x01]));
      if (sequences.length === 5) expect(out[offset + 4]).toBe(0xfb);
      offset += 4 + length;
    }
    // count, column, EOF, row, row, EOF
    expect(sequences).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
