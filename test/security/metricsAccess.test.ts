import { describe, expect, it } from 'vitest';
import { createTestHost } from '../helpers/netns.js';
import { startTestServer } from '../helpers/server.js';

describe('/metrics', () => {
  it('answers this machine when no [http] metrics_token is set', async () => {
    const server = await startTestServer();
    try {
      const scraped = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('# TYPE cometmcu_internal_errors_total counter');
      // Through a proxy on this machine, the client is the one it forwarded.
      const proxied = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
      expect(proxied.status).toBe(403);
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

  it('refuses another machine without a token, and lets it scrape with one', async () => {
    const other = await createTestHost();
    const scrapeFrom = (port: number, ...header: string[]) =>
      other.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...header, `http://${other.hostAddress}:${port}/metrics`]);
    try {
      const open = await startTestServer({ COMET_WS_IP: other.hostAddress });
      try {
        expect(await scrapeFrom(open.httpPort)).toBe('403');
        // The same server still answers /info there: only /metrics is kept to this machine.
        expect(await other.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${other.hostAddress}:${open.httpPort}/info`])).toBe('200');
      } finally {
        await open.close();
      }
      const guarded = await startTestServer({ COMET_WS_IP: other.hostAddress, COMET_HTTP_METRICS_TOKEN: 'scrape-me' });
      try {
        expect(await scrapeFrom(guarded.httpPort)).toBe('401');
        expect(await scrapeFrom(guarded.httpPort, '-H', 'Authorization: Bearer scrape-me')).toBe('200');
      } finally {
        await guarded.close();
      }
    } finally {
      await other.close();
    }
  });
});
