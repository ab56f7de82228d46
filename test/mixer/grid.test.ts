import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { liveFfmpegPids } from '../../mixer/ffmpeg.js';
import { BrowserFleet, eventually, FPS, sleep, type JoinOptions } from './harness.js';
import { useConference } from './conference.js';

describe('mixer: a conference of 4 on a grid', () => {
  const members: JoinOptions[] = [
    { userId: 1, colour: 'red', tone: 400 },
    { userId: 2, colour: 'lime', tone: 600 },
    { userId: 3, colour: 'blue', tone: 800 },
    { userId: 4, colour: 'yellow', tone: 1000 },
  ];
  const { world, fleet } = useConference(members);
  const tones = members.map((m) => m.tone);
  const colours = members.map((m) => m.colour);

  it('shows every member in its tile to every receiver, through one shared encoder', async () => {
    await eventually(async () => {
      for (const { userId } of members) expect(await fleet.call('tiles', userId, 'grid', 4), `member ${userId}`).toEqual(colours);
    }, 15_000);
    expect(world.mixer.stats().videoEncoders).toBe(1);
    expect(await fleet.call('receivedCodec', 1)).toBe('VP8');
  });

  it('lets each receiver hear the others and not itself', async () => {
    await eventually(async () => {
      for (const [index, { userId }] of members.entries()) {
        const powers = await fleet.call('tonePowers', userId, 400, tones);
        const own = Math.max(powers[index]!, 1e-6);
        powers.forEach((power, other) => {
          if (other !== index) expect(power, `member ${userId} hears ${tones[other]} Hz`).toBeGreaterThan(50 * own);
        });
      }
    });
  });

  it("silences a muted member's tone for everyone within 500 ms", async () => {
    const [before] = await fleet.call('tonePowers', 1, 200, [600]);
    expect(before).toBeGreaterThan(1e-3);
    const mutedAt = performance.now();
    await world.model.updateControls(0, 'r', 2, { audio: false });
    // Whatever happens here, the cases after this one get the room as it was.
    try {
      const silentAfter: number[] = [];
      for (const listener of [1, 3, 4]) {
        while ((await fleet.call('tonePowers', listener, 60, [600]))[0]! > before! / 100 && performance.now() - mutedAt < 2000) await sleep(10);
        silentAfter.push(performance.now() - mutedAt);
      }
      console.log(`mute → tone gone at the listeners after ${silentAfter.map((ms) => ms.toFixed(0)).join(', ')} ms`);
      expect(Math.max(...silentAfter)).toBeLessThanOrEqual(500);
      await eventually(async () => expect((await world.model.findMembers(0, { userIds: [2] }))[0]!.talking).toBe(false));
    } finally {
      await world.model.updateControls(0, 'r', 2, { audio: true });
    }
  });

  it('gives each member a personal view of the 3 others, one encoder each', async () => {
    for (const { userId } of members) await world.model.updateControls(0, 'r', userId, { layout: 'personal' });
    try {
      await eventually(async () => {
        for (const [index, { userId }] of members.entries()) {
          expect(await fleet.call('tiles', userId, 'personal', 3)).toEqual(colours.filter((_, i) => i !== index));
        }
        // The grid's encoder stops a moment after its last subscriber moved on.
        expect(world.mixer.stats().videoEncoders).toBe(4);
      });
    } finally {
      for (const { userId } of members) await world.model.updateControls(0, 'r', userId, { layout: null });
    }
    await eventually(() => expect(world.mixer.stats().videoEncoders).toBe(1));
  });

  it("keeps everyone's frame rate when a member stops sending, then shows their placeholder", async () => {
    await fleet.call('stopSource', 4);
    try {
      await sleep(500);
      const from = Date.now();
      await sleep(3000);
      for (const watcher of [1, 2, 3]) {
        const { count } = await fleet.call('frames', watcher, from, Date.now());
        expect(count, `member ${watcher} decoded ${count} frames in 3 s`).toBeGreaterThanOrEqual(0.9 * FPS * 3);
      }
      await eventually(async () => expect((await fleet.call('tiles', 1, 'grid', 4))![3]).toBe('placeholder'), 5000);
    } finally {
      await fleet.call('startSource', 4);
    }
    await eventually(async () => expect(await fleet.call('tiles', 1, 'grid', 4)).toEqual(colours));
  });

  it('keeps video flowing while a member joins and another leaves (no gap above 500 ms)', async () => {
    const fifth: JoinOptions = { userId: 5, colour: 'magenta', tone: 1200 };
    // The newcomer is another machine: its own WebRTC work must not stall the watchers' browsers, and its
    // preparation (the offer) is not the server's doing, so it happens before the watch starts.
    const newcomer = new BrowserFleet(5);
    const offer = await newcomer.offer(fifth);
    const from = Date.now();
    await newcomer.connect(world, fifth, offer);
    await eventually(async () => expect(await fleet.call('tiles', 1, 'grid', 5)).toEqual([...colours, 'magenta']));
    await world.model.leave(0, 'r', 5, 'hangup');
    await newcomer.close();
    await eventually(async () => expect(await fleet.call('tiles', 1, 'grid', 4)).toEqual(colours));
    const to = Date.now();
    const gaps = await Promise.all([1, 2].map(async (watcher) => (await fleet.call('frames', watcher, from, to)).longestGap));
    console.log(`longest frame gap during join + leave: ${gaps.join(', ')} ms`);
    // The 150 ms goal is measured by `npm run bench:mixer` (join/leave gap); a test's bound must hold on a loaded
    // machine, where 180–370 ms were seen (issue #11): it catches a freeze, not a slow machine.
    expect(Math.max(...gaps)).toBeLessThanOrEqual(500);
  }, 60_000);

  it('keeps the others\' pictures coming while a member sends 10,000 broken frames, and shows that member again after', async () => {
    // The hostile member is another machine: its sending must not stall the watchers' browsers.
    const hostile: JoinOptions = { userId: 5, colour: 'magenta', tone: 1200 };
    const attacker = new BrowserFleet(5);
    try {
      await attacker.connect(world, hostile, await attacker.offer(hostile));
      await eventually(async () => expect(await fleet.call('tiles', 1, 'grid', 5)).toEqual([...colours, 'magenta']));
      const rssBefore = process.memoryUsage().rss;
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      const from = Date.now();
      await attacker.call('sendHostileVideo', 5, 10_000);
      const to = Date.now();
      lag.disable();
      const gaps = await Promise.all([1, 2].map(async (watcher) => (await fleet.call('frames', watcher, from, to)).longestGap));
      console.log(`10,000 broken frames in ${to - from} ms; longest frame gap at the watchers: ${gaps.join(', ')} ms; server event loop p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(500);
      expect(world.mixer.stats().members).toBe(5);
      // The attacker's camera is back: its tile shows it again, everyone else's never left.
      await eventually(async () => expect(await fleet.call('tiles', 1, 'grid', 5)).toEqual([...colours, 'magenta']), 10_000);
      const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
      console.log(`RSS grew ${grownMb.toFixed(1)} MB`);
      expect(grownMb).toBeLessThan(100);
    } finally {
      await world.model.leave(0, 'r', 5, 'hangup');
      await attacker.close();
    }
  }, 120_000);

  it('leaves no FFmpeg behind when the conference ends', async () => {
    for (const { userId } of members) await world.model.leave(0, 'r', userId, 'hangup');
    await eventually(() => expect(world.mixer.stats().rooms).toBe(0));
    // Their processes are asked to stop as the room closes; none may be left once they have.
    await eventually(() => expect(liveFfmpegPids()).toEqual([]), 5000);
  });
});
