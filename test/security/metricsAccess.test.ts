import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers/server.js';

/** An address of this machine that is not loopback: a client connecting to it is not local to the server. */
const outside = Object.values(networkInterfaces())
  .flat()
  .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;

describe('/metrics', () => {
  it.skipIf(!outside)('answers only this machine when no [http] metrics_token is set', async () => {
    const server = await startTestServer({ COMET_WS_IP: '0.0.0.0' });
    try {
      expect((await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).status).toBe(200);
      const remote = await fetch(`http://${outside}:${server.httpPort}/metrics`);
      expect(remote.status).toBe(403);
      expect(await remote.text()).not.toContain('cometmcu_');
      // The rest of the port is for everyone.
      expect((await fetch(`http://${outside}:${server.httpPort}/info`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('wants the bearer token when [http] metrics_token is set, from anywhere', async () => {
    const server = await startTestServer({ COMET_HTTP_METRICS_TOKEN: 'scrape-me' });
    try {
      const scrape = (authorization?: string) =>
        fetch(`http://127.0.0.1:${server.httpPort}/metrics`, { headers: authorization ? { Authorization: authorization } : {} });
      for (const refused of [await scrape(), await scrape('Bearer scrape-m'), await scrape('Bearer scrape-me!'), await scrape('Basic c2NyYXBlLW1l')]) {
        expect(refused.status).toBe(401);
        expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      }
      const scraped = await scrape('Bearer scrape-me');
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('cometmcu_internal_errors_total');
    } finally {
      await server.close();
    }
  });
});
