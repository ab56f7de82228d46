import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFfmpegPids } from '../../mixer/ffmpeg.js';
import { COLOURS, eventually, FPS, newMixerWorld, TestMember, tileColours, tonePower } from './harness.js';

/** The longest time between two decoded frames of a receiver in a window. */
function longestGap(member: TestMember, from: number, to: number): number {
  const times = member.picturesBetween(from, to).map((p) => p.at);
  let gap = times.length ? times[0]! - from : to - from;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return Math.max(gap, to - (times.at(-1) ?? from));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mixer: a conference of 4 on a grid', () => {
  const world = newMixerWorld();
  const tones = [400, 600, 800, 1000];
  const members = COLOURS.slice(0, 4).map((colour, i) => new TestMember({ userId: i + 1, colour, tone: tones[i]! }));
  const [one, two, three, four] = members as [TestMember, TestMember, TestMember, TestMember];
  beforeAll(async () => {
    for (const member of members) await member.join(world);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(members.map((m) => m.close()));
    await world.mixer.close();
  });

  it('shows every member in its tile to every receiver, through one shared encoder', async () => {
    await eventually(() => {
      for (const member of members) {
        expect(member.latest, `member ${member.userId} got no picture`).toBeDefined();
        expect(tileColours(member.latest!, 'grid', 4)).toEqual(['red', 'lime', 'blue', 'yellow']);
      }
    }, 15_000);
    expect(world.mixer.stats().videoEncoders).toBe(1);
  });

  it('lets each receiver hear the others and not itself', async () => {
    await eventually(() => {
      for (const [index, member] of members.entries()) {
        const heard = member.recentAudio(400);
        const own = tonePower(heard, tones[index]!);
        for (const [other, tone] of tones.entries()) {
          if (other !== index) expect(tonePower(heard, tone), `member ${member.userId} hears ${tone} Hz`).toBeGreaterThan(50 * Math.max(own, 1e-6));
        }
      }
    });
  });

  it("silences a muted member's tone for everyone within 500 ms", async () => {
    const before = tonePower(one.recentAudio(200), tones[1]!);
    expect(before).toBeGreaterThan(1e-3);
    const mutedAt = performance.now();
    await world.model.updateControls(0, 'r', 2, { audio: false });
    const listeners = [one, three, four];
    const silentAfter: number[] = [];
    for (const listener of listeners) {
      while (tonePower(listener.recentAudio(60), tones[1]!) > before / 100 && performance.now() - mutedAt < 2000) await sleep(20);
      silentAfter.push(performance.now() - mutedAt);
    }
    console.log(`mute → tone gone at the listeners after ${silentAfter.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    expect(Math.max(...silentAfter)).toBeLessThanOrEqual(500);
    // The talking flag follows the silence.
    await eventually(async () => expect((await world.model.findMembers(0, { userIds: [2] }))[0]!.talking).toBe(false));
    await world.model.updateControls(0, 'r', 2, { audio: true });
  });

  it('gives each member a personal view of the 3 others, one encoder each', async () => {
    for (const member of members) await world.model.updateControls(0, 'r', member.userId, { layout: 'personal' });
    const expected = ['red', 'lime', 'blue', 'yellow'];
    await eventually(() => {
      for (const [index, member] of members.entries()) {
        expect(tileColours(member.latest!, 'personal', 3)).toEqual(expected.filter((_, i) => i !== index));
      }
    });
    expect(world.mixer.stats().videoEncoders).toBe(4);
    for (const member of members) await world.model.updateControls(0, 'r', member.userId, { layout: null });
    await eventually(() => expect(world.mixer.stats().videoEncoders).toBe(1));
  });

  it("keeps everyone's frame rate when a member stops sending", async () => {
    four.stopSource();
    await sleep(500);
    const from = performance.now();
    await sleep(3000);
    for (const watcher of [one, two, three]) {
      const frames = watcher.picturesBetween(from, performance.now()).length;
      expect(frames, `member ${watcher.userId} decoded ${frames} frames in 3 s`).toBeGreaterThanOrEqual(0.9 * FPS * 3);
    }
    // The silent member keeps their last picture for a while, then shows their placeholder.
    await eventually(() => expect(tileColours(one.latest!, 'grid', 4)[3]).toBe('placeholder'), 5000);
    await four.startSource();
  });

  it('keeps video flowing while a member joins and another leaves (gap ≤ 150 ms)', async () => {
    const fifth = new TestMember({ userId: 5, colour: COLOURS[4]!, tone: 1200 });
    const from = performance.now();
    await fifth.join(world);
    await eventually(() => expect(tileColours(one.latest!, 'grid', 5)).toEqual(['red', 'lime', 'blue', 'yellow', 'magenta']));
    await world.model.leave(0, 'r', 5, 'hangup');
    await fifth.close();
    await eventually(() => expect(tileColours(one.latest!, 'grid', 4)).toEqual(['red', 'lime', 'blue', 'yellow']));
    const to = performance.now();
    const gaps = [one, two].map((watcher) => longestGap(watcher, from, to));
    console.log(`longest frame gap during join + leave: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(150);
  });

  it('recovers within 1 s when its FFmpeg processes are killed with SIGKILL', async () => {
    const [pids] = [...world.mixer.ffmpegPids().values()];
    const killedAt = performance.now();
    for (const pid of [...pids!.encoders, ...pids!.decoders]) process.kill(pid, 'SIGKILL');
    await sleep(50);
    await eventually(() => expect(one.picturesBetween(killedAt + 50, Infinity).length).toBeGreaterThan(0), 3000);
    const resumedAfter = one.picturesBetween(killedAt + 50, Infinity)[0]!.at - killedAt;
    console.log(`video resumed ${resumedAfter.toFixed(0)} ms after SIGKILL`);
    expect(resumedAfter).toBeLessThanOrEqual(1000);
    await eventually(() => expect(tileColours(one.latest!, 'grid', 4)).toEqual(['red', 'lime', 'blue', 'yellow']));
  });

  it('leaves no FFmpeg behind when the conference ends', async () => {
    for (const member of members) await world.model.leave(0, 'r', member.userId, 'hangup');
    await Promise.all(members.map((m) => m.close()));
    await eventually(() => expect(world.mixer.stats().rooms).toBe(0));
    expect(liveFfmpegPids()).toEqual([]);
  });
});
