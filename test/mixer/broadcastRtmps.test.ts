import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Nginx } from '../helpers/nginx.js';
import { freePort, startMediaServer, type TestServer } from '../helpers/server.js';
import { BrowserFleet, CANVAS, eventually, FPS, sleep } from './harness.js';
import { expectBothMembersInHls } from './mediaFiles.js';

/**
 * A push over RTMPS: nginx-rtmp behind a TLS terminator (nginx's stream module, a self-signed certificate,
 * as a CDN's ingest would be). The server checks the certificate: trusted through `[broadcast]
 * rtmps_ca_file`, the stream arrives with both members in it; not trusted, nothing is sent.
 */

const dir = mkdtempSync(join(tmpdir(), 'cometmcu-rtmps-'));

describe('broadcast: RTMPS push', () => {
  let trusting: TestServer;
  let doubting: TestServer;
  let nginx: Nginx;
  const fleet = new BrowserFleet(0, CANVAS, FPS);
  const others = new BrowserFleet(0, CANVAS, FPS);

  beforeAll(async () => {
    const rtmpsPort = await freePort();
    nginx = Nginx.forTests(join(dir, 'nginx'), await freePort(), { rtmpsPort });
    await nginx.start();
    const profiles = join(dir, 'profiles.ini');
    writeFileSync(profiles, `[secure]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = ${FPS}\ncodec = VP8\nbitrate = 500\nlayout = grid\nmax_members = 16\nopen = true\nrtmp = rtmps://127.0.0.1:${rtmpsPort}/live/\${conference_name}\n`);
    trusting = await startMediaServer(profiles, join(dir, 'data'), { COMET_BROADCAST_RTMPS_CA_FILE: join(dir, 'nginx', 'cert.pem') });
    doubting = await startMediaServer(profiles, join(dir, 'data2'));
  }, 60_000);

  afterAll(async () => {
    await fleet.close();
    await others.close();
    await trusting?.close();
    await doubting?.close();
    await nginx?.stop();
  });

  it('reaches nginx over TLS with both members in it when the certificate is trusted', async () => {
    const world = { model: trusting.model, mixer: trusting.mixer! };
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'secure', profile: 'secure' });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, volume: 0.3, room: 'secure', profile: 'secure' });
    await expectBothMembersInHls(join(nginx.hlsDir, 'secure.m3u8'));
    expect(trusting.mixer!.stats().perRoom[0]!.broadcast).toEqual([{ kind: 'rtmp', target: expect.stringMatching(/^rtmps:\/\//), running: true, restarts: 0 }]);
  }, 60_000);

  it('sends nothing to a server whose certificate it cannot check', async () => {
    const world = { model: doubting.model, mixer: doubting.mixer! };
    await others.join(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: 'doubted', profile: 'secure' });
    await eventually(() => expect(doubting.mixer!.stats().perRoom[0]!.broadcast[0]!.restarts).toBeGreaterThan(0), 15_000);
    await sleep(2000);
    expect(existsSync(join(nginx.hlsDir, 'doubted.m3u8'))).toBe(false);
  }, 30_000);
});
