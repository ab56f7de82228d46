/**
 * Chromium as users run it: default privacy settings (no loopback switch, mDNS host names left on), on test
 * hosts of its own (network namespaces with non-loopback addresses), talking to the server's real address.
 * A page without camera or microphone permission (here: it sends a canvas, not a camera) offers only `.local`
 * host candidates (Chromium shows its addresses to pages that were granted capture, as Firefox does): the
 * server must find the browser through its checks (peer-reflexive candidates) and make no lookup. A browser whose UDP to the server is dropped never
 * connects: after [media] connect_timeout its member leaves (media-failed), the others get onOut, and its
 * page gets onCallEnd with the reason, never onCallStart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tileRects } from '../../mixer/views/layouts/index.js';
import type { LeaveReason } from '../../src/domain.js';
import { createTestHost, type TestHost } from '../helpers/netns.js';
import { runPhp, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../mixer/harness.js';
import { nearestName } from '../mixer/signals.js';
import { candidateAddresses } from './sdp.js';

// Globals of the functions that run inside the page (this file itself runs in Node, without the DOM types).
declare const window: any;
declare const document: any;

const exec = promisify(execFile);
const CONNECT_TIMEOUT_S = 3;
const CANVAS = { width: 640, height: 360 };
const COLOURS: Record<string, [number, number, number]> = { red: [255, 0, 0], lime: [0, 255, 0], blue: [0, 0, 255] };
const php = (name: string): string => fileURLToPath(new URL(`../../examples/php/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-network-'));

function profiles(): string {
  const file = join(dir, 'profiles.ini');
  writeFileSync(file, `[video]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = 15\ncodec = VP8\nbitrate = 600\nlayout = grid\nmax_members = 16\nopen = false\n`);
  return file;
}

/** The name of the namespace that holds a test host's address (`ip netns exec` takes names). */
async function namespaceOf(host: TestHost): Promise<string> {
  const names = (await exec('ip', ['netns', 'list'])).stdout.split('\n').map((line) => line.split(' ')[0]!).filter(Boolean);
  for (const name of names) {
    if ((await exec('ip', ['-n', name, '-o', '-4', 'addr', 'show'])).stdout.includes(` ${host.address}/`)) return name;
  }
  throw new Error(`no namespace holds ${host.address}`);
}

/** Chromium started inside the namespace: playwright-core runs this script as the browser. */
function chromiumIn(namespace: string): string {
  const script = join(dir, `chromium-${namespace}`);
  writeFileSync(script, `#!/bin/sh\nexec ip netns exec ${namespace} /usr/bin/chromium "$@"\n`);
  chmodSync(script, 0o755);
  return script;
}

interface PageEvent {
  name: string;
  at: number;
  event: { status?: string; user_id?: number };
}

/** A user's Chromium on a test host, with the example page, its callbacks and the INVITEs it sent. */
class User {
  browser!: Browser;
  page!: Page;
  constructor(
    readonly userId: number,
    readonly colour: string,
  ) {}

  async open(executable: string, origin: string, server: TestServer): Promise<void> {
    const { stdout } = await runPhp(php('auth.php'), [`user_id=${this.userId}`], server);
    const key = (JSON.parse(stdout) as { hash: string }).hash;
    this.browser = await chromium.launch({
      executablePath: executable,
      args: [
        // Root needs --no-sandbox; the rest keeps Chromium from its own background traffic. Nothing about WebRTC.
        '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
        // WebRTC wants a secure context; TLS is not what this test is about.
        `--unsafely-treat-insecure-origin-as-secure=${origin}`,
      ],
    });
    this.page = await this.browser.newPage();
    // What goes out on the SIP WebSocket: the INVITE carries the offer exactly as the server gets it.
    await this.page.addInitScript(() => {
      const send = window.WebSocket.prototype.send;
      window.invites = [];
      window.WebSocket.prototype.send = function (data: unknown) {
        if (typeof data === 'string' && data.startsWith('INVITE ')) window.invites.push(data);
        return send.call(this, data);
      };
    });
    await this.page.goto(`${origin}/examples/index.html?user_id=${this.userId}&user_key=${key}`);
    await this.page.evaluate(() => {
      const events: PageEvent[] = [];
      window.events = events;
      const api = window.cometVideoApi as { start(o: Record<string, unknown>): void };
      const start = api.start;
      api.start = (options) => {
        const wrapped: Record<string, unknown> = { ...options };
        for (const [name, value] of Object.entries(options)) {
          if (typeof value !== 'function') continue;
          wrapped[name] = (event: Record<string, unknown> = {}) => {
            events.push({ name, at: Date.now(), event: { status: event.status as string, user_id: event.user_id as number } });
            (value as (e: unknown) => void)(event);
          };
        }
        start(wrapped);
      };
    });
    await this.page.click('#start');
    await this.waitFor('onAuthSuccess');
  }

  events(name: string): Promise<PageEvent[]> {
    return this.page.evaluate((n) => (window.events as PageEvent[]).filter((e) => e.name === n), name);
  }

  async waitFor(name: string, timeoutMs = 20_000): Promise<PageEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [event] = await this.events(name);
      if (event) return event;
      if (Date.now() > deadline) throw new Error(`user ${this.userId}: no ${name}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Answers the call as the example page does, sending a canvas of its colour instead of a camera. */
  async answer(): Promise<void> {
    await this.page.evaluate((rgb) => {
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 180;
      const context = canvas.getContext('2d');
      // Painted again and again: a canvas stream only carries frames that were drawn.
      setInterval(() => {
        context.fillStyle = `rgb(${rgb.join(',')})`;
        context.fillRect(0, 0, canvas.width, canvas.height);
      }, 66);
      const $ = (id: string) => document.getElementById(id);
      window.cometVideoApi.acceptCall({ type: 'video', custom_stream: canvas.captureStream(15), video_remote: $('video_remote'), audio_remote: $('audio_remote'), video_local: $('video_local') });
    }, COLOURS[this.colour]!);
  }

  /** The offer's candidate addresses, from the INVITE the page sent. */
  async offeredAddresses(): Promise<string[]> {
    const [invite] = (await this.page.evaluate(() => window.invites)) as string[];
    return candidateAddresses(invite!.slice(invite!.indexOf('\r\n\r\n') + 4));
  }

  /** Colour names at the top fifth of each tile of a grid of `count`, read from the mixed video. */
  async tiles(count: number): Promise<string[]> {
    const points = tileRects('grid', count, CANVAS).map((r) => [(r.x + r.width / 2) / CANVAS.width, (r.y + r.height / 5) / CANVAS.height]);
    const pixels = await this.page.evaluate((pts) => {
      const video = document.getElementById('video_remote');
      if (!video.videoWidth) return [];
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext('2d');
      context.drawImage(video, 0, 0);
      return pts.map(([x, y]: number[]) => Array.from(context.getImageData(Math.floor(x! * canvas.width), Math.floor(y! * canvas.height), 1, 1).data.slice(0, 3)));
    }, points);
    return (pixels as number[][]).map((pixel) => nearestName(pixel, [...Object.entries(COLOURS), ['black', [0, 0, 0]], ['placeholder', [60, 60, 60]]]));
  }

  async close(): Promise<void> {
    await this.browser?.close();
  }
}

describe('Chromium with default privacy settings, on addresses of its own', () => {
  let lan: TestHost;
  let firewalled: TestHost;
  let server: TestServer;
  const red = new User(1, 'red');
  const lime = new User(2, 'lime');
  const blue = new User(3, 'blue');
  const joinedAt = new Map<number, number>();
  const departures: { userId: number; reason: LeaveReason; at: number }[] = [];

  beforeAll(async () => {
    lan = await createTestHost();
    firewalled = await createTestHost();
    const address = lan.hostAddress;
    // Each host's gateway is this side, as on a LAN: a page without capture permission gathers only on the
    // interface of the default route (none: no candidate at all). The firewalled host's UDP to the server is dropped.
    for (const host of [lan, firewalled]) await host.run('ip', ['route', 'add', 'default', 'via', host.hostAddress]);
    await firewalled.run('ip', ['rule', 'add', 'to', address, 'ipproto', 'udp', 'prohibit']);
    server = await startTestServer({
      COMET_WS_IP: address,
      COMET_WS_PUBLIC_HOST: address,
      COMET_MEDIA_ADDRESSES: address,
      COMET_MEDIA_ADDRESSES_ONLY: 'true',
      COMET_MEDIA_CONNECT_TIMEOUT: String(CONNECT_TIMEOUT_S),
      COMET_CONFERENCE_PROFILES: profiles(),
    });
    server.model.on('memberJoined', (member) => joinedAt.set(member.userId, performance.now()));
    server.model.on('memberLeft', (member, reason) => departures.push({ userId: member.userId, reason, at: performance.now() }));
    const origin = `http://${address}:${server.httpPort}`;
    const onLan = chromiumIn(await namespaceOf(lan));
    await Promise.all([red.open(onLan, origin, server), lime.open(onLan, origin, server), blue.open(chromiumIn(await namespaceOf(firewalled)), origin, server)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([red, lime, blue].map((user) => user.close()));
    await server?.close();
    await lan?.close();
    await firewalled?.close();
  });

  it('connects two pages whose offers name no address (only mDNS .local), each seeing the other', async () => {
    expect((await runPhp(php('call.php'), ['room=lan', 'users=1,2', 'caller=1', 'profile=video'], server)).code).toBe(0);
    // One after the other: the grid shows members in the order they joined.
    for (const user of [red, lime]) {
      await user.waitFor('onCall');
      await user.answer();
      await user.waitFor('onCallStart');
    }
    for (const user of [red, lime]) {
      const addresses = await user.offeredAddresses();
      expect(addresses.length).toBeGreaterThan(0);
      expect(addresses.filter((candidate) => !candidate.endsWith('.local'))).toEqual([]);
    }
    await eventually(async () => {
      for (const user of [red, lime]) expect(await user.tiles(2)).toEqual(['red', 'lime']);
    }, 20_000);
    // Both legs outlive the connect timeout: they connected.
    await new Promise((resolve) => setTimeout(resolve, (CONNECT_TIMEOUT_S + 1) * 1000));
    expect(departures).toEqual([]);
  }, 90_000);

  it('ends a page whose UDP cannot reach the server after connect_timeout: onOut for the others, onCallEnd for it', async () => {
    expect((await runPhp(php('call.php'), ['room=lan', 'users=3', 'caller=1', 'profile=video'], server)).code).toBe(0);
    await blue.waitFor('onCall');
    await blue.answer();
    const end = await blue.waitFor('onCallEnd', 30_000);
    expect(end.event.status).toBe('media-failed');
    expect(await blue.events('onCallStart')).toEqual([]);
    const [left] = departures;
    expect(left).toMatchObject({ userId: 3, reason: 'media-failed' });
    // Joined (SIP answered 200) to gone: the connect timeout, and a margin for a loaded machine.
    const after = left!.at - joinedAt.get(3)!;
    console.log(`joined → put out: ${Math.round(after)} ms (connect_timeout ${CONNECT_TIMEOUT_S} s)`);
    expect(after).toBeGreaterThan((CONNECT_TIMEOUT_S - 0.5) * 1000);
    expect(after).toBeLessThan((CONNECT_TIMEOUT_S + 4) * 1000);
    for (const user of [red, lime]) {
      const out = await user.waitFor('onOut');
      expect(out.event).toMatchObject({ user_id: 3, status: 'media-failed' });
    }
    await eventually(async () => expect(await red.tiles(2)).toEqual(['red', 'lime']), 20_000);
  }, 60_000);
});
