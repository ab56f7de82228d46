import { benchCometQL } from './cometql.js';
import { benchMixer } from './mixer.js';
import { benchBroadcast } from './broadcast.js';

/** `npm run bench`: every benchmark in turn; each writes bench/results/<name>.json and prints its table. */
const benchmarks: [string, () => Promise<unknown>][] = [
  ['cometql', benchCometQL],
  ['mixer', benchMixer],
  ['broadcast', benchBroadcast],
];

for (const [name, run] of benchmarks) {
  console.log(`\n== ${name}`);
  await run();
}
