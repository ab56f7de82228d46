import { afterEach, describe, expect, it } from 'vitest';
import { MediaStreamTrack } from 'werift';
import { ViewStreams, type Wanted } from '../../mixer/encoders/viewStreams.js';
import { SubscriberVideo } from '../../mixer/outbound/subscriberVideo.js';
import { isVp8KeyframeStart } from '../../mixer/rtp/depacketizer.js';
import { parseRtp } from '../helpers/rtp.js';
import type { LayoutName, UserId, View } from '../../src/domain.js';
import { createLogger } from '../../src/log.js';
import { eventually, sleep } from './harness.js';

const log = createLogger('silent');

function view(layout: LayoutName, visible: UserId[]): View {
  return { layout, visible, canvas: { width: 320, height: 180 }, fps: 15, codec: 'VP8', videoBitrateKbps: 300 };
}

/** A subscriber whose track records what it is sent: sequence numbers, timestamps, keyframe starts. */
function subscriber(): { video: SubscriberVideo; packets: { sequence: number; timestamp: number; keyframe: boolean; at: number }[] } {
  const track = new MediaStreamTrack({ kind: 'video' });
  const packets: { sequence: number; timestamp: number; keyframe: boolean; at: number }[] = [];
  track.onReceiveRtp.subscribe((rtp) => {
    const fields = parseRtp(rtp.serialize())!;
    packets.push({ sequence: fields.sequence, timestamp: fields.timestamp, keyframe: isVp8KeyframeStart(fields.payload), at: performance.now() });
  });
  return { video: new SubscriberVideo(track), packets };
}

describe('view streams: one encoder per distinct view, kept while the view changes', () => {
  let streams: ViewStreams | undefined;
  afterEach(async () => {
    await streams?.close();
    streams = undefined;
  });

  it('keeps a grid on one encoder as members join and leave: the stream goes on, nobody switches', async () => {
    streams = new ViewStreams(() => undefined, log);
    const subscribers = [subscriber(), subscriber(), subscriber()];
    streams.assign(subscribers.map(({ video }) => ({ subscriber: video, view: view('grid', [1, 2, 3]) })));
    const [first] = [...streams.all];
    await eventually(() => expect(subscribers.every(({ packets }) => packets.length > 0)).toBe(true));
    const fourth = subscriber();
    streams.assign([...subscribers, fourth].map(({ video }) => ({ subscriber: video, view: view('grid', [1, 2, 3, 4]) })));
    streams.assign(subscribers.map(({ video }) => ({ subscriber: video, view: view('grid', [1, 2, 3]) })));
    expect([...streams.all]).toEqual([first]);
    expect(first!.view.visible).toEqual([1, 2, 3]);
    for (const { video } of subscribers) expect(video.stream).toBe(first);
    await sleep(300);
    // One stream all along: its sequence numbers never jump.
    for (const { packets } of subscribers) {
      for (let i = 1; i < packets.length; i++) expect((packets[i]!.sequence - packets[i - 1]!.sequence) & 0xffff).toBe(1);
    }
  });

  it('uses two encoders for a speaker layout of any size, and only the old and new speakers move when the speaker changes', async () => {
    streams = new ViewStreams(() => undefined, log);
    const members = [1, 2, 3, 4, 5, 6];
    const subscribers = new Map(members.map((userId) => [userId, subscriber()]));
    const speakerLayout = (speaker: UserId, previous: UserId): Wanted[] =>
      members.map((userId) => {
        const main = userId === speaker ? previous : speaker;
        return { subscriber: subscribers.get(userId)!.video, view: view('speaker', [main, ...members.filter((other) => other !== main)]) };
      });
    streams.assign(speakerLayout(1, 2));
    expect(streams.all.size).toBe(2);
    const before = new Map(members.map((userId) => [userId, subscribers.get(userId)!.video.stream]));
    const encoders = new Set(streams.all);
    await eventually(() => expect([...subscribers.values()].every(({ packets }) => packets.length > 0)).toBe(true));

    const changedAt = performance.now();
    streams.assign(speakerLayout(3, 1));
    expect(streams.all.size).toBe(2);
    expect(new Set(streams.all)).toEqual(encoders);
    const moved = members.filter((userId) => subscribers.get(userId)!.video.stream !== before.get(userId));
    expect(moved.sort()).toEqual([1, 3]);

    // The two who moved get a keyframe of their new stream soon, with sequence numbers that run on.
    await eventually(() => {
      for (const userId of moved) expect(subscribers.get(userId)!.packets.some((p) => p.at > changedAt && p.keyframe)).toBe(true);
    }, 3000);
    for (const userId of moved) {
      const { packets } = subscribers.get(userId)!;
      const after = packets.findIndex((p) => p.at > changedAt);
      expect(packets[after]!.keyframe).toBe(true);
      expect((packets[after]!.sequence - packets[after - 1]!.sequence) & 0xffff).toBe(1);
      expect(((packets[after]!.timestamp - packets[after - 1]!.timestamp) >>> 0) < 90_000).toBe(true);
    }
  });

  it('answers a keyframe request with a keyframe from the same encoder, and spaces a flood of requests', async () => {
    streams = new ViewStreams(() => undefined, log);
    const watcher = subscriber();
    streams.assign([{ subscriber: watcher.video, view: view('grid', [1, 2]) }]);
    const [stream] = [...streams.all];
    await eventually(() => expect(watcher.packets.filter((p) => p.keyframe).length).toBe(1));
    await sleep(300);
    const askedAt = performance.now();
    watcher.video.requestKeyframe();
    await eventually(() => expect(watcher.packets.some((p) => p.at > askedAt && p.keyframe)).toBe(true), 2000);
    const answeredMs = watcher.packets.find((p) => p.at > askedAt && p.keyframe)!.at - askedAt;
    console.log(`keyframe ${answeredMs.toFixed(0)} ms after the request`);
    expect([...streams.all]).toEqual([stream]);

    // A request on every frame for a second: keyframes at most every 200 ms, not one per frame.
    const floodFrom = performance.now();
    const flood = setInterval(() => watcher.video.requestKeyframe(), 20);
    await sleep(1000);
    clearInterval(flood);
    const keyframes = watcher.packets.filter((p) => p.at > floodFrom && p.keyframe).length;
    expect(keyframes).toBeGreaterThanOrEqual(3);
    expect(keyframes).toBeLessThanOrEqual(7);
  });
});
