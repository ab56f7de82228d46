import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, rawHttp, startTestServer, type TestServer } from './helpers/server.js';

describe('HTTP: /info and /metrics', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ COMET_MAIN_NODE_NAME: 'node-one' });
  });
  afterAll(() => server.close());
  const get = (path: string) => fetch(`http://127.0.0.1:${server.httpPort}${path}`);

  it('answers /info like CppComet, with a few more facts', async () => {
    const response = await get('/info');
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toMatchObject({ status: 'ok', node: 'node-one__', conferences: 0, members: 0 });
  });

  it('exposes queries, errors, connections and rooms in Prometheus text format', async () => {
    const client = await connect(server);
    await client.query("INSERT INTO conference (name, user_id, message) VALUES ('m', 1, '{}')");
    await client.query("SELECT * FROM conference WHERE name = 'm'");
    await client.query('SELECT * FROM not_a_table').catch(() => undefined);
    await server.model.join({ devId: 0, room: 'm', userId: 1, profile: 'default' });
    const text = await (await get('/metrics')).text();
    await client.end();
    expect(text).toContain('cometql_queries_total{table="conference",kind="insert"} 1');
    expect(text).toContain('cometql_queries_total{table="conference",kind="select"} 1');
    expect(text).toContain('cometql_queries_total{table="unknown",kind="select"} 1');
    expect(text).toContain('cometql_errors_total{code="15"} 1');
    expect(text).toContain('cometql_connections 1');
    expect(text).toContain('cometmcu_conferences 1');
    expect(text).toContain('cometmcu_members 1');
    expect(text).toContain('cometmcu_invitations 1');
    expect(text).toContain('cometmcu_store_up 1');
    expect(text).toMatch(/cometql_queries_per_second \d/);
    expect(text).toContain('cometmcu_process_cpu_seconds_total');
    expect(text).toContain('cometmcu_video_encoders 0');
    expect(text).toContain('cometmcu_video_frames_dropped 0');
  });

  it('answers 404 for unknown paths, 400 for broken escapes, and goes on', async () => {
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/hls/0/room/%E0%A4%A')).status).toBe(400);
    expect((await get('/examples/%')).status).toBe(400);
    expect((await get('/info')).status).toBe(200);
  });

  it('reads an absolute-form request target by its path, and answers 400 to one that is no URL, then goes on', async () => {
    const request = (target: string, headers = '') => rawHttp(server, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`);
    expect(await request('http://x:99999/info')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await request('http://')).toMatch(/^HTTP\/1\.1 404 /);
    expect(await request('http://[/')).toMatch(/^HTTP\/1\.1 404 /);
    expect(await request('/\\[')).toMatch(/^HTTP\/1\.1 400 /);
    // The same as WebSocket upgrades, to the comet gateway and to SIP.
    const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const upgradeTo = async (target: string) =>
      (await rawHttp(server, `GET ${target} HTTP/1.1\r\nHost: x\r\n${upgrade}Sec-WebSocket-Protocol: sip\r\n\r\n`, 500)).split('\r\n')[0];
    expect(await upgradeTo('http://x:99999/sip')).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await upgradeTo('http://[/ws/')).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await upgradeTo('/\\[')).toBe('HTTP/1.1 400 Bad Request');
    expect((await get('/info')).status).toBe(200);
  });
});
