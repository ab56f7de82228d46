import { describe, expect, it } from 'vitest';
import { clientAddress } from '../../src/net.js';

describe("a browser's address", () => {
  it('is the peer, or through a proxy on this machine the last address the proxy forwarded', () => {
    expect(clientAddress('192.0.2.1', undefined)).toBe('192.0.2.1');
    expect(clientAddress('127.0.0.1', '198.51.100.1, 203.0.113.9')).toBe('203.0.113.9');
    expect(clientAddress('::ffff:127.0.0.1', ['198.51.100.1', '203.0.113.9 '])).toBe('203.0.113.9');
    expect(clientAddress('::1', ' , ')).toBe('::1');
    // A peer from elsewhere cannot pass for another address.
    expect(clientAddress('192.0.2.1', '203.0.113.9')).toBe('192.0.2.1');
  });
});
