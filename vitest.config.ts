import { defineConfig } from 'vitest/config';

// The test workers run mixers in process: the same thread pool as the server's (src/threadPool.ts).
process.env.UV_THREADPOOL_SIZE ??= '16';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Media and protocol tests start real servers and child processes; keep them from starving each other on 2 cores.
    fileParallelism: false,
    reporters: ['default', './test/reporters/summary.ts'],
  },
});
