import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Nginx } from '../helpers/nginx.js';
import { freePort, startMediaServer, type TestServer } from '../helpers/server.js';
import { BrowserFleet, CANVAS, FPS } from './harness.js';
import { expectBothMembersInHls } from './mediaFiles.js';

/**
 * A push over RTMPS: nginx-rtmp behind a TLS terminator (nginx's stream module, a self-signed certificate,
 * as a CDN's ingest would be), and the stream that arrives shows both members and plays both tones.
 */

const dir = mkdtempSync(join(tmpdir(), 'cometmcu-rtmps-'));

describe('broadcast: RTMPS push', () => {
  let server: TestServer;
  let nginx: Nginx;
  const fleet = new BrowserFleet(0, CANVAS, FPS);

  beforeAll(async () => {
    const rtmpsPort = await freePort();
    nginx = Nginx.forTests(dir, await freePort(), { rtmpsPort });
    await nginx.start();
    const profiles = join(dir, 'profiles.ini');
    writeFileSync(profiles, `[secure]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${FPS}\ncodec = VP8\nbitrate = 500\nlayout = grid\nmax_members = 16\nopen = true\nrtmp = rtmps://127.0.0.1:${rtmpsPort}/live/\${conference_name}\n`);
    server = await startMediaServer(profiles, join(dir, 'data'));
    const world = { model: server.model, mixer: server.mixer! };
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'secure', profile: 'secure' });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, volume: 0.3, room: 'secure', profile: 'secure' });
  }, 60_000);

  afterAll(async () => {
    await fleet.close();
    await server?.close();
    await nginx?.stop();
  });

  it('reaches nginx over TLS with both members in it', async () => {
    await expectBothMembersInHls(join(nginx.hlsDir, 'secure.m3u8'));
    expect(server.mixer!.stats().perRoom[0]!.broadcast).toEqual([{ kind: 'rtmp', target: expect.stringMatching(/^rtmps:\/\//), running: true, restarts: 0 }]);
  });
});
