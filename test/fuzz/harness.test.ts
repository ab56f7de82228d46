import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzz } from './fuzz.js';

describe('the fuzz harness', () => {
  it('keeps a failing input as a regression case and replays it first', async () => {
    const target = 'harness-self-test';
    const file = join(import.meta.dirname, 'regressions', `${target}.json`);
    rmSync(file, { force: true });
    try {
      const failsOnZero = (bytes: Uint8Array): void => {
        if (bytes.includes(0)) throw new Error('zero byte');
      };
      await expect(fuzz(target, fc.uint8Array({ minLength: 1 }), failsOnZero, 2)).rejects.toThrow(/zero byte/);
      expect(existsSync(file)).toBe(true);
      const kept = JSON.parse(readFileSync(file, 'utf8')) as { $bytes: string }[];
      expect(Buffer.from(kept[0]!.$bytes, 'base64')).toContain(0);
      // Replayed before any random input: a property that only fails on the kept input still fails.
      const seen: Buffer[] = [];
      await expect(
        fuzz(target, fc.constant(new Uint8Array([1])), (bytes) => {
          seen.push(Buffer.from(bytes));
          failsOnZero(bytes);
        }, 2),
      ).rejects.toThrow(/zero byte/);
      expect(seen[0]).toContain(0);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
