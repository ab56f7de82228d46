import { describe, expect, it } from 'vitest';
import { reportInternalError } from '../../src/faults.js';
import { createLogger } from '../../src/log.js';
import { startTestServer } from '../helpers/server.js';

describe('internal errors', () => {
  it('are counted in /metrics by boundary, and fail the test server that saw them', async () => {
    const server = await startTestServer();
    // What a boundary does when it catches a bug of ours.
    reportInternalError(createLogger('silent'), new Error('a bug'), 'request');
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(metrics).toContain('cometmcu_internal_errors_total{boundary="request"} 1');
    await expect(server.close()).rejects.toThrow(/^1 internal error\(s\) while this test server ran, by boundary so far: \{"request":1\}$/);
  });
});
