import { describe, expect, it } from 'vitest';
import { mixFrames, mixKey } from '../../mixer/mixMinus.js';
import { levelDb, SpeakerTracker, TalkDetector } from '../../mixer/speech.js';

const tone = (amplitude: number, length = 960): Int16Array => Int16Array.from({ length }, (_, i) => Math.round(amplitude * Math.sin(i / 5)));

describe('mix-minus', () => {
  it('gives each heard listener everyone but themselves, and shares the full mix and silence', () => {
    const heard = new Set([1, 2]);
    const listeners = [{ userId: 1, deaf: false }, { userId: 2, deaf: false }, { userId: 3, deaf: false }, { userId: 4, deaf: true }];
    const keys = new Set(listeners.map((l) => mixKey(l, heard)));
    expect([...keys]).toEqual(['minus:1', 'minus:2', 'all', 'silence']);
    const frames = new Map([[1, Int16Array.from([100, 30000, -30000])], [2, Int16Array.from([5, 30000, -30000])]]);
    const mixes = mixFrames(frames, keys, 3);
    expect([...mixes.get('minus:1')!]).toEqual([5, 30000, -30000]);
    expect([...mixes.get('minus:2')!]).toEqual([100, 30000, -30000]);
    expect([...mixes.get('all')!]).toEqual([105, 32767, -32768]); // clipped, not wrapped
    expect([...mixes.get('silence')!]).toEqual([0, 0, 0]);
  });
});

describe('speech detection', () => {
  it('measures levels in dBFS', () => {
    expect(levelDb(new Int16Array(960))).toBe(-100);
    expect(levelDb(tone(32767 / Math.SQRT2 * Math.SQRT2))).toBeCloseTo(-3, 0);
    expect(levelDb(tone(328))).toBeCloseTo(-43, 0);
  });

  it('starts talking after the attack time and keeps talking through short pauses', () => {
    const detector = new TalkDetector({ onDb: -40, offDb: -50, attackMs: 60, releaseMs: 200 });
    expect(detector.feed(-20, 20)).toBe(false);
    expect(detector.feed(-20, 20)).toBe(false);
    expect(detector.feed(-20, 20)).toBe(true);
    expect(detector.talking).toBe(true);
    for (let i = 0; i < 9; i++) expect(detector.feed(-80, 20)).toBe(false); // 180 ms pause
    expect(detector.feed(-45, 20)).toBe(false); // between thresholds: resets nothing, changes nothing
    for (let i = 0; i < 9; i++) detector.feed(-80, 20);
    expect(detector.feed(-80, 20)).toBe(true);
    expect(detector.talking).toBe(false);
  });

  it('follows the loudest talker, switching only after the hold time', () => {
    const tracker = new SpeakerTracker(100, 3);
    const feed = (a: number, b: number) => tracker.feed(new Map([[1, { db: a, talking: a > -50 }], [2, { db: b, talking: b > -50 }]]), 20);
    expect(feed(-20, -90)).toBe(true);
    expect(tracker.current).toEqual({ active: 1, previous: null });
    let switched = false;
    let frames = 0;
    while (!switched && frames < 50) {
      switched = feed(-40, -10);
      frames++;
    }
    expect(tracker.current).toEqual({ active: 2, previous: 1 });
    expect(frames * 20).toBeGreaterThanOrEqual(100);
    tracker.forget(2);
    expect(tracker.current).toEqual({ active: null, previous: 1 });
  });
});
