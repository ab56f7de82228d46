import { chromium, type Browser, type Page } from 'playwright-core';
import { rgbName } from './signals.js';

// Globals of the functions that run inside the viewer page (this file runs in Node, without DOM types).
declare const document: any;
declare const window: any;

/** examples/web/viewer.html (hls.js) in headless Chromium, playing a room's embedded HLS. */
export class ViewerPage {
  private constructor(
    private readonly browser: Browser,
    readonly page: Page,
  ) {}

  /** The page playing room `room` of dev_id 0, or (`src`) any playlist URL. */
  static async open(httpPort: number, what: { room: string } | { src: string }): Promise<ViewerPage> {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', '--disable-background-networking'] });
    const page = await browser.newPage();
    const query = 'room' in what ? `room=${encodeURIComponent(what.room)}&dev_id=0` : `src=${encodeURIComponent(what.src)}`;
    await page.goto(`http://127.0.0.1:${httpPort}/examples/viewer.html?${query}`);
    return new ViewerPage(browser, page);
  }

  /** From now on, notes the colour of the left tile's top of every frame the player shows, and when. */
  async sampleLeftTile(): Promise<void> {
    // A string, not a function: tsx (the benchmarks) would wrap a named local function in a helper the page lacks.
    await this.page.evaluate(`(() => {
      const video = document.getElementById('player');
      const canvas = document.createElement('canvas');
      canvas.width = 16;
      canvas.height = 9;
      const context = canvas.getContext('2d', { willReadFrequently: true });
      window.tileSamples = [];
      const onFrame = () => {
        context.drawImage(video, 0, 0, 16, 9);
        const pixel = context.getImageData(4, 2, 1, 1).data;
        window.tileSamples.push([Date.now(), pixel[0], pixel[1], pixel[2]]);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    })()`);
  }

  /** The colour changes seen since sampleLeftTile(): when (Date.now()) each colour appeared. */
  async leftTileChanges(): Promise<{ at: number; colour: string }[]> {
    const samples = (await this.page.evaluate(() => window.tileSamples)) as [number, number, number, number][];
    const changes: { at: number; colour: string }[] = [];
    for (const [at, ...rgb] of samples) {
      const colour = rgbName(rgb);
      if (colour !== changes.at(-1)?.colour) changes.push({ at, colour });
    }
    return changes;
  }

  /** Colour names at 30 % height of the picture's left and right quarters (the tiles of a grid of 2). */
  async tileColours(): Promise<string[]> {
    const pixels = (await this.page.evaluate(() => {
      const video = document.getElementById('player');
      if (!video.videoWidth) return [];
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext('2d');
      context.drawImage(video, 0, 0);
      return [0.25, 0.75].map((x) => Array.from(context.getImageData(Math.floor(x * canvas.width), Math.floor(0.3 * canvas.height), 1, 1).data.slice(0, 3)));
    })) as number[][];
    return pixels.map(rgbName);
  }

  /** What hls.js says: seconds behind the live edge, and whether it reads the playlist's parts. */
  player(): Promise<{ latency: number | null; parts: number; blockingReload: boolean }> {
    return this.page.evaluate(() => {
      const hls = window.viewer?.hls;
      const details = hls?.levels?.[hls.currentLevel]?.details ?? hls?.levels?.[0]?.details;
      return { latency: hls && Number.isFinite(hls.latency) ? hls.latency : null, parts: details?.partList?.length ?? 0, blockingReload: details?.canBlockReload === true };
    });
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}
