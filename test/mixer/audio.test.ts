import { describe, expect, it } from 'vitest';
import { MixMinus, mixKey } from '../../mixer/audio/mixMinus.js';
import { levelDb, SpeakerTracker, TalkDetector } from '../../mixer/audio/speech.js';

const tone = (amplitude: number, length = 960): Int16Array => Int16Array.from({ length }, (_, i) => Math.round(amplitude * Math.sin(i / 5)));

describe('mix-minus', () => {
  it('gives each heard listener everyone but themselves, and shares the full mix and silence', () => {
    const listeners = [
      { userId: 1, deaf: false, heard: true },
      { userId: 2, deaf: false, heard: true },
      { userId: 3, deaf: false, heard: false },
      { userId: 4, deaf: true, heard: true },
    ];
    expect(listeners.map(mixKey)).toEqual([1, 2, 'all', 'silence']);
    const one = Int16Array.from([100, 30000, -30000]);
    const two = Int16Array.from([5, 30000, -30000]);
    const mixer = new MixMinus(3);
    mixer.add(one);
    mixer.add(two);
    const mix = (own?: Int16Array): number[] => {
      const out = new Int16Array(3);
      mixer.mixInto(out, own);
      return [...out];
    };
    expect(mix(one)).toEqual([5, 30000, -30000]);
    expect(mix(two)).toEqual([100, 30000, -30000]);
    expect(mix()).toEqual([105, 32767, -32768]); // clipped, not wrapped
  });

  it('starts each frame period from nothing, in the same memory', () => {
    const mixer = new MixMinus(2);
    const out = Int16Array.from([7, 7]);
    mixer.add(Int16Array.from([1, 2]));
    mixer.reset();
    mixer.add(Int16Array.from([10, -20]));
    mixer.mixInto(out);
    expect([...out]).toEqual([10, -20]);
    mixer.reset();
    mixer.mixInto(out);
    expect([...out]).toEqual([0, 0]);
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

  it('smooths a member afresh after a frame period without them, also when someone else came instead', () => {
    const tracker = new SpeakerTracker(20, 3); // a challenger louder by 3 dB takes over at once
    const level = (db: number) => ({ db, talking: true });
    expect(tracker.feed(new Map([[1, level(-20)], [2, level(-60)]]), 20)).toBe(true);
    for (let i = 0; i < 50; i++) tracker.feed(new Map([[1, level(-20)], [2, level(-60)]]), 20);
    tracker.feed(new Map([[1, level(-20)], [3, level(-60)]]), 20); // 2 gone, 3 came: the same count
    // Smoothed from its old -60, member 2 would stay at -50: afresh it is at -10, and takes over.
    expect(tracker.feed(new Map([[1, level(-20)], [2, level(-10)], [3, level(-60)]]), 20)).toBe(true);
    expect(tracker.current).toEqual({ active: 2, previous: 1 });
  });
});
