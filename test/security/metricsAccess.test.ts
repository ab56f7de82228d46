import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers/server.js';

describe('/metrics', () => {
  // Refusing other machines is not tested here: tests reach this machine through loopback only.
  it('answers this machine when no [http] metrics_token is set', async () => {
    const server = await startTestServer();
    try {
      const scraped = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('# TYPE cometmcu_internal_errors_total counter');
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
