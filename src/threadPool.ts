/**
 * The media plane's decoders and encoders (node-av) do their work on libuv's thread pool, beside file and
 * DNS work; its default of 4 threads would queue a busy room's codecs behind each other. The pool reads
 * this once, when it is first used, so main.ts imports this module before anything else, and the mixer
 * does too (benchmarks and tests run a mixer without main.ts).
 */
process.env.UV_THREADPOOL_SIZE ??= '16';
