import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoxSplitter, Fmp4Error, parseFragment, parseInit, type Box, type TrackInfo } from '../../mixer/broadcast/fmp4.js';
import { LowLatencyHls } from '../../mixer/broadcast/llHls.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';

/**
 * The fMP4 reader and the LL-HLS packager on garbage: boxes of the kinds they read (moov, trak, moof, trun…),
 * nested, with lying sizes and random fields, cut into random chunks, or plain random bytes. Whatever comes,
 * they answer with their own Fmp4Error or nothing, and soon.
 */

const CONTAINERS = ['moov', 'trak', 'mdia', 'mvex', 'moof', 'traf'] as const;
const LEAVES = ['ftyp', 'tkhd', 'mdhd', 'hdlr', 'trex', 'tfhd', 'tfdt', 'trun', 'mdat', 'junk'] as const;

/** A box's header: its true size, or a lie (0, the 64-bit form, anything). */
function box(type: string, payload: Buffer, lie: number | undefined, large: boolean): Buffer {
  const header = Buffer.alloc(large ? 16 : 8);
  const size = header.length + payload.length;
  header.writeUInt32BE(large ? 1 : (lie ?? size), 0);
  header.write(type, 4, 'latin1');
  if (large) header.writeBigUInt64BE(BigInt(lie ?? size), 8);
  return Buffer.concat([header, payload]);
}

/** Field bytes: mostly 0 and 1, so track ids, versions and flags of different boxes often agree. */
const fields = (maxLength: number) => fc.array(fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 255 })), { maxLength }).map((bytes) => Buffer.from(bytes));

/** Mostly true sizes, so the boxes inside are reached; now and then a lie. */
const header = {
  lie: fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, { arbitrary: fc.oneof(fc.constant(0), fc.constant(1), fc.nat(), fc.nat(64)), weight: 1 }),
  large: fc.boolean(),
};

const { tree } = fc.letrec<{ tree: Buffer }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small' },
    fc.record({ type: fc.constantFrom(...LEAVES), payload: fields(64), ...header }).map(({ type, payload, lie, large }) => box(type, payload, lie, large)),
    fc.record({ type: fc.constantFrom(...CONTAINERS), children: fc.array(tie('tree'), { maxLength: 4 }), ...header }).map(({ type, children, lie, large }) =>
      box(type, Buffer.concat(children), lie, large),
    ),
  ),
}));

const stream = fc.oneof(fc.array(tree, { maxLength: 8 }).map((boxes) => Buffer.concat(boxes)), fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)));
const input = fc.record({ stream, cuts: fc.array(fc.nat(), { maxLength: 8 }) });

function chunksOf({ stream, cuts }: { stream: Buffer; cuts: number[] }): Buffer[] {
  const at = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  return [0, ...at].map((from, i) => stream.subarray(from, at[i] ?? stream.length));
}

/** Every track id is a known video track: fragments are read to the end whatever their ids. */
const ANY_TRACK = { get: (id: number): TrackInfo => ({ id, kind: 'video', timescale: 90_000, defaultDuration: 3000, defaultFlags: 0 }) } as ReadonlyMap<number, TrackInfo>;

/** Runs `read`; an Fmp4Error is an answer, anything else fails the target. */
function answers(read: () => void): void {
  try {
    read();
  } catch (error) {
    if (!(error instanceof Fmp4Error)) throw error;
  }
}

describe('fuzz: the fMP4 reader', () => {
  it('answers garbage with its own error or nothing, and never hangs', async () => {
    await fuzz('fmp4', input, (given) => {
      const { stream } = given;
      const started = performance.now();
      const packager = new LowLatencyHls({ segmentSeconds: 1, partSeconds: 0.2, windowSegments: 3 });
      answers(() => {
        for (const chunk of chunksOf(given)) packager.push(chunk);
      });
      packager.playlist();
      // The box readers on their own, on every box the stream holds, whatever the packager made of it.
      let boxes: Box[] = [];
      answers(() => (boxes = new BoxSplitter().push(stream)));
      for (const found of boxes) {
        answers(() => parseInit(found.bytes));
        answers(() => parseFragment(found.bytes, ANY_TRACK));
      }
      // Generous: a hang would be seconds; these inputs take well under a millisecond.
      expect(performance.now() - started).toBeLessThan(1000);
    });
  }, fuzzTimeoutMs());
});
