import { describe, expect, it } from 'vitest';
import { Outbox } from '../../src/gateway/outbox.js';

const frame = (text: string): Buffer => Buffer.from(text);
const drain = (outbox: Outbox): string[] => {
  const out: string[] = [];
  for (let next = outbox.shift(); next; next = outbox.shift()) out.push(next.toString());
  return out;
};

describe('the outbox of a slow reader', () => {
  it('keeps frames in order and drops the oldest droppable ones past its size, never the others', () => {
    const outbox = new Outbox(10);
    expect(outbox.push(frame('p1+'), true)).toBe(0);
    expect(outbox.push(frame('ME'), false)).toBe(0);
    expect(outbox.push(frame('p2+'), true)).toBe(0);
    // 11 bytes: the oldest pipe frame goes, the personal one before it stays.
    expect(outbox.push(frame('p3+'), true)).toBe(1);
    expect(outbox.push(frame('p4+p4+'), true)).toBe(2);
    expect(outbox.isOverflowing()).toBe(false);
    expect(drain(outbox)).toEqual(['ME', 'p4+p4+']);
    expect(outbox.isEmpty()).toBe(true);
  });

  it('says when frames it may not drop overflow it', () => {
    const outbox = new Outbox(4);
    outbox.push(frame('pp'), true);
    expect(outbox.push(frame('mmmm'), false)).toBe(1);
    expect(outbox.isOverflowing()).toBe(false);
    outbox.push(frame('m'), false);
    expect(outbox.isOverflowing()).toBe(true);
  });

  it('stays in order over many frames pushed and taken in turns', () => {
    const outbox = new Outbox(64);
    const taken: number[] = [];
    let dropped = 0;
    for (let n = 0; n < 10_000; n++) {
      dropped += outbox.push(frame(String(n).padStart(8, '0')), n % 7 !== 0);
      if (n % 3 === 0) taken.push(Number(outbox.shift()!.toString()));
    }
    for (let next = outbox.shift(); next; next = outbox.shift()) taken.push(Number(next.toString()));
    expect(taken).toEqual([...taken].sort((a, b) => a - b));
    expect(taken.length + dropped).toBe(10_000);
    // Every frame it may not drop got through.
    const through = new Set(taken);
    expect(Array.from({ length: 10_000 / 7 }, (_, i) => i * 7).filter((n) => !through.has(n))).toEqual([]);
  });
});
