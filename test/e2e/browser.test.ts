import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tileRects } from '../../mixer/views/layouts/index.js';
import { runPhp, startTestServer, type TestServer } from '../helpers/server.js';
import { nearestName } from '../mixer/signals.js';

/**
 * The whole path in real headless Chromium: PHP (mysqli) gives keys and invites, the example page logs in
 * with cometVideoApi.js, hears onCall, answers, and joins the mixer over WebRTC with JsSIP; each page's
 * camera is a solid colour (a y4m file), and the pixels of the mixed video are checked.
 */

// Globals of the functions that run inside the page (this file itself runs in Node, without the DOM types).
declare const window: any;
declare const document: any;

const CANVAS = { width: 640, height: 360 };
const COLOURS: Record<string, [number, number, number]> = { red: [255, 0, 0], lime: [0, 255, 0], blue: [0, 0, 255] };
const php = (name: string): string => fileURLToPath(new URL(`../../examples/php/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-e2e-'));

function camera(colour: string): string {
  const file = join(dir, `${colour}.y4m`);
  const [r, g, b] = COLOURS[colour]!;
  const hex = [r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x${hex}:s=320x180:r=15`, '-frames:v', '30', '-pix_fmt', 'yuv420p', file]);
  return file;
}

function profiles(): string {
  const file = join(dir, 'profiles.ini');
  writeFileSync(
    file,
    `[video]\nmedia = video\ncanvas = ${CANVAS.width}x${CANVAS.height}\nfps = 15\ncodec = VP8\nbitrate = 600\nlayout = grid\nmax_members = 16\nopen = false\n`,
  );
  return file;
}

interface PageEvent {
  name: string;
  at: number;
  event: { status?: string; user_id?: number; type?: string };
}

/** A user's browser: its own Chromium (the fake camera is per process), the example page, its events. */
class User {
  browser!: Browser;
  page!: Page;
  constructor(
    readonly userId: number,
    readonly colour: string,
  ) {}

  async open(server: TestServer, key: string): Promise<void> {
    this.browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${camera(this.colour)}`, '--allow-loopback-in-peer-connection',
        '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required',
      ],
    });
    this.page = await this.browser.newPage();
    // Keep the page's WebSockets reachable, to cut them as a network drop would.
    await this.page.addInitScript(() => {
      const Native = window.WebSocket;
      window.sockets = [];
      window.WebSocket = class extends Native {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols);
          window.sockets.push(this);
        }
      };
    });
    await this.page.goto(`http://127.0.0.1:${server.httpPort}/examples/index.html?user_id=${this.userId}&user_key=${key}`);
    // Record every callback with its time, around the page's own handlers.
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
            events.push({ name, at: Date.now(), event: { status: event.status as string, user_id: event.user_id as number, type: event.type as string } });
            (value as (e: unknown) => void)(event);
          };
        }
        start(wrapped);
      };
    });
    await this.page.click('#start');
  }

  events(name: string): Promise<PageEvent[]> {
    return this.page.evaluate((n) => (window.events as PageEvent[]).filter((e) => e.name === n), name);
  }

  async waitFor(name: string, count = 1, timeoutMs = 15_000): Promise<PageEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const events = await this.events(name);
      if (events.length >= count) return events;
      if (Date.now() > deadline) throw new Error(`user ${this.userId}: no ${name} (${count})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Clicks "Answer with video" and resolves with the ms until the first frame of the mix was decoded. */
  async answer(): Promise<number> {
    const clicked = Date.now();
    await this.page.click('#answer_video');
    await this.page.waitForFunction(() => {
      const video = document.getElementById('video_remote');
      return video.videoWidth > 0 && video.currentTime > 0;
    }, undefined, { timeout: 20_000 });
    return Date.now() - clicked;
  }

  /** Colour names at the top fifth of each tile of a grid of `count`, read from the remote video. */
  async tiles(count: number): Promise<string[]> {
    const points = tileRects('grid', count, CANVAS).map((r) => [(r.x + r.width / 2) / CANVAS.width, (r.y + r.height / 5) / CANVAS.height]);
    const pixels = await this.page.evaluate((pts) => {
      const video = document.getElementById('video_remote');
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext('2d');
      context.drawImage(video, 0, 0);
      return pts.map(([x, y]: number[]) => Array.from(context.getImageData(Math.floor(x! * canvas.width), Math.floor(y! * canvas.height), 1, 1).data.slice(0, 3)));
    }, points);
    return pixels.map((pixel) => nearest(pixel as [number, number, number]));
  }

  async close(): Promise<void> {
    await this.browser?.close();
  }
}

function nearest(pixel: [number, number, number]): string {
  return nearestName(pixel, [...Object.entries(COLOURS), ['black', [0, 0, 0]], ['placeholder', [60, 60, 60]]]);
}

async function eventually(check: () => Promise<void>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

describe('end to end in Chromium: PHP invites, pages answer, the mixer mixes', () => {
  let server: TestServer;
  const users = [new User(1, 'red'), new User(2, 'lime'), new User(3, 'blue')];
  const [one, two, three] = users as [User, User, User];
  const intruder = new User(4, 'red');
  let invitedAt = 0;

  beforeAll(async () => {
    server = await startTestServer({
      COMET_WS_PUBLIC_HOST: '127.0.0.1',
      COMET_MEDIA_ADDRESSES: '127.0.0.1',
      COMET_MEDIA_ADDRESSES_ONLY: 'true',
      COMET_CONFERENCE_PROFILES: profiles(),
    });
    server.model.on('invited', () => (invitedAt ||= Date.now()));
    for (const user of users) {
      const { stdout } = await runPhp(php('auth.php'), [`user_id=${user.userId}`], server);
      await user.open(server, (JSON.parse(stdout) as { hash: string }).hash);
    }
    await Promise.all(users.map((user) => user.waitFor('onAuthSuccess')));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...users, intruder].map((user) => user.close()));
    await server?.close();
  });

  it('delivers the invitation as onCall promptly after the INSERT (goal 50 ms, bound 1 s)', async () => {
    const run = await runPhp(php('call.php'), ['room=101', 'users=1,2,3', 'caller=1', 'profile=video', 'message={"text":"hi"}'], server);
    expect(run.code).toBe(0);
    const arrivals = await Promise.all(users.map(async (user) => (await user.waitFor('onCall'))[0]!.at - invitedAt));
    console.log(`INSERT → onCall in the pages: ${arrivals.join(', ')} ms`);
    // The first INSERT is the reference; the other users' INSERTs follow it within the same PHP run.
    // The 50 ms goal holds on an idle machine (1–18 ms measured) but 60 ms was seen on a loaded one (issue #11): a
    // test's bound must hold every time, so it catches a lost or queued invitation, not a slow machine.
    expect(arrivals[0]).toBeLessThanOrEqual(1000);
  });

  it('joins two pages, each seeing both colours in its tiles, and tells the caller', async () => {
    const firstFrames = [await one.answer(), await two.answer()];
    console.log(`accept → first mixed frame decoded: ${firstFrames.join(', ')} ms`);
    // A sanity bound only: the goal (1 s) is reported from the printed figure; a loaded machine can be slower.
    expect(Math.max(...firstFrames)).toBeLessThanOrEqual(5000);
    for (const user of [one, two]) expect((await user.waitFor('onCallStart'))[0]!.event.type).toBe('video');
    await eventually(async () => {
      for (const user of [one, two]) expect(await user.tiles(2)).toEqual(['red', 'lime']);
    });
    expect((await one.waitFor('onCallAccept')).length).toBe(1); // the caller hears the first answer
  });

  it('fires onIn when a third page joins late, and onOut when it leaves', async () => {
    await three.answer();
    await eventually(async () => {
      for (const user of users) expect(await user.tiles(3)).toEqual(['red', 'lime', 'blue']);
    });
    for (const user of [one, two]) expect((await user.waitFor('onIn')).map((e) => e.event.user_id)).toContain(3);
    await three.page.click('#hangup');
    expect((await three.waitFor('onCallEnd'))[0]!.event.status).toBe('hangup');
    for (const user of [one, two]) {
      const out = await user.waitFor('onOut');
      expect(out.map((e) => e.event.user_id)).toContain(3);
    }
    await eventually(async () => expect(await one.tiles(2)).toEqual(['red', 'lime']));
  });

  it("ends page 2's call when the backend kicks it, and the others lose its tile", async () => {
    const run = await runPhp(php('members.php'), ['room=101', 'kick=2'], server);
    expect(run.code).toBe(0);
    expect((await two.waitFor('onCallEnd'))[0]!.event.status).toBe('kicked');
    await eventually(async () => expect(await one.tiles(1)).toEqual(['red']));
  });

  it('carries chat messages between the pages, beside the call', async () => {
    await one.page.fill('#chat_text', 'hello from one');
    await one.page.click('#chat_form button');
    await two.page.waitForFunction(() => document.getElementById('chat_messages').textContent.includes('user 1: hello from one'), undefined, { timeout: 5000 });
    await three.page.waitForFunction(() => document.getElementById('chat_messages').textContent.includes('user 1: hello from one'), undefined, { timeout: 5000 });
  });

  it('reconnects the comet WebSocket after a drop and still hears invitations', async () => {
    await one.page.evaluate(() => {
      for (const socket of window.sockets) if (String(socket.url).includes('/ws/')) socket.close();
    });
    await one.waitFor('onAuthSuccess', 2);
    const before = (await one.events('onCall')).length;
    await runPhp(php('call.php'), ['room=202', 'users=1', 'caller=2'], server);
    await one.waitFor('onCall', before + 1);
  });

  it('refuses a page with a wrong key: no auth, no invitation, no call', async () => {
    await intruder.open(server, 'not-the-key');
    await intruder.waitFor('onAuthFail');
    await runPhp(php('call.php'), ['room=101', 'users=4', 'caller=1'], server);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await intruder.events('onCall')).toEqual([]);
    const accepted = await intruder.page.evaluate(() => window.cometVideoApi.acceptCall() as Promise<boolean>);
    expect(accepted).toBe(false);
    expect((await server.model.findMembers(0, { rooms: ['101'], userIds: [4] })).length).toBe(0);
  });
});
