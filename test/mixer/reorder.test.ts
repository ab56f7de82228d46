import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '../../mixer/rtp/reorder.js';
import type { RtpFields } from '../../mixer/rtp/packet.js';

const packet = (sequence: number, ssrc = 1): RtpFields => ({ sequence, ssrc, marker: false, payloadType: 96, timestamp: 0, payload: Buffer.alloc(0) });

describe('the reorder buffer', () => {
  it('puts late packets back in order and drops duplicates', () => {
    const out: number[] = [];
    const buffer = new ReorderBuffer((p) => out.push(p.sequence), () => out.push(-1));
    for (const sequence of [65534, 0, 65535, 1, 0, 2]) buffer.push(packet(sequence));
    expect(out).toEqual([65534, 65535, 0, 1, 2]);
    buffer.close();
  });

  it('gives up on a missing packet after the wait, reporting the loss', async () => {
    const out: number[] = [];
    const buffer = new ReorderBuffer((p) => out.push(p.sequence), () => out.push(-1), 30);
    buffer.push(packet(10));
    buffer.push(packet(12));
    expect(out).toEqual([10]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(out).toEqual([10, -1, 12]);
    buffer.close();
  });

  it('follows a sender that restarts with other numbers or another SSRC', () => {
    const out: number[] = [];
    const buffer = new ReorderBuffer((p) => out.push(p.sequence), () => out.push(-1));
    buffer.push(packet(5000));
    buffer.push(packet(100)); // far behind: a restart, not a late packet
    buffer.push(packet(101));
    buffer.push(packet(7, 2)); // new SSRC: a new stream, what was in progress is lost
    expect(out).toEqual([5000, -1, 100, 101, -1, 7]);
    buffer.close();
  });
});
