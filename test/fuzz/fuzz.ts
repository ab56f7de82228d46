import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';

/**
 * The fuzzing harness every target uses. A target is a fast-check property over hostile inputs: it runs for
 * FUZZ_SECONDS (2 s in `npm test`; `npm run fuzz` sets as long as you like), first replaying every input that
 * ever failed it, kept in `regressions/<target>.json`. A failure found is written there before the test
 * fails, so it stays a regression case once committed. FUZZ_SEED replays a run.
 */
export const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 2);

const REGRESSIONS = join(dirname(fileURLToPath(import.meta.url)), 'regressions');

/** Vitest's time limit for a target of FUZZ_SECONDS, with room for its set-up. */
export const fuzzTimeoutMs = (setupMs = 30_000): number => FUZZ_SECONDS * 1000 + setupMs;

/** FUZZ_SECONDS=0 replays the kept regression cases only. */
export async function fuzz<T>(
  target: string,
  arbitrary: fc.Arbitrary<T>,
  property: (input: T) => void | Promise<void>,
  seconds = FUZZ_SECONDS,
): Promise<void> {
  const file = join(REGRESSIONS, `${target}.json`);
  const known = readRegressions<T>(file);
  for (const input of known) await property(input);
  if (seconds <= 0) return;
  // A synchronous property never gives the event loop a turn (its promises settle as microtasks): yield now and
  // then, or vitest's own messages and the target's servers starve for the whole run.
  let yieldedAt = Date.now();
  const result = await fc.check(
    fc.asyncProperty(arbitrary, async (input) => {
      if (Date.now() - yieldedAt > 20) {
        await new Promise((resolve) => setImmediate(resolve));
        yieldedAt = Date.now();
      }
      await property(input);
    }),
    {
      numRuns: Number.MAX_SAFE_INTEGER,
      interruptAfterTimeLimit: seconds * 1000,
      seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined,
    },
  );
  if (!result.failed) return;
  // A run can fail without a counterexample (a property that hung past the time limit): nothing to keep then.
  if (!result.counterexample) throw new Error(`fuzz target ${target} failed without an input to keep (seed ${result.seed}): ${String(result.errorInstance)}`);
  const found = result.counterexample[0] as T;
  writeRegressions(file, [...known, found]);
  throw new Error(
    `fuzz target ${target} failed on ${describe(found)} (seed ${result.seed}, kept in ${file}):\n${String(result.errorInstance)}`,
    { cause: result.errorInstance },
  );
}

// Buffers and Uint8Arrays survive the JSON file as {"$bytes": base64}.
function replacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { $bytes: Buffer.from((value as { data: number[] }).data).toString('base64') };
  }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && typeof (value as { $bytes?: unknown }).$bytes === 'string') {
    return Buffer.from((value as { $bytes: string }).$bytes, 'base64');
  }
  return value;
}

function readRegressions<T>(file: string): T[] {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8'), reviver) as T[]) : [];
}

function writeRegressions<T>(file: string, inputs: T[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(inputs, replacer, 1)}\n`);
}

function describe(input: unknown): string {
  const text = JSON.stringify(input, replacer) ?? String(input);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
