import { describe, expect, it } from 'vitest';
import type { CometClient, CometMessage, Delivery, EncodedFrame } from '../../src/messaging/frames.js';
import { PipeHub } from '../../src/messaging/pipeHub.js';

/** A client that records what it is sent; `open: false` refuses like a closed socket. */
function fakeClient(userId: number, devId = 0, open = true) {
  const received: CometMessage[] = [];
  const client: CometClient = {
    devId,
    userId,
    uuid: `u${userId}`,
    info: { userAgent: '', ip: '', origin: '', language: '' },
    send(frame: EncodedFrame, delivery: Delivery) {
      expect(delivery).toBe('pipe');
      if (open) received.push(JSON.parse(frame.toString()) as CometMessage);
      return open;
    },
    close() {},
  };
  return { client, received };
}

describe('the pipe hub', () => {
  it('fans out to subscribers of the same dev_id, but the sender, and counts who took it', () => {
    const hub = new PipeHub();
    const [a, b, closed, otherTenant] = [fakeClient(1), fakeClient(2), fakeClient(3, 0, false), fakeClient(4, 7)];
    for (const { client } of [a, b, closed, otherTenant]) hub.subscribe(client, ['web_room']);
    expect(hub.publish(0, 'web_room', { data: 'hi', pipe: 'web_room', event: 'e' }, a.client)).toBe(1);
    expect(a.received).toEqual([]);
    expect(b.received).toEqual([{ data: 'hi', pipe: 'web_room', event: 'e' }]);
    expect(otherTenant.received).toEqual([]);
    expect(hub.subscribers(0, 'web_room').size).toBe(3);
    expect(hub.publish(0, 'nobody', { data: 'x', pipe: 'nobody', event: 'e' })).toBe(0);
  });

  it('replaces a subscription set, and announces only real joins and leaves on track_ pipes', () => {
    const hub = new PipeHub(() => 5_000);
    const watcher = fakeClient(1);
    const member = fakeClient(2);
    // Each returns the bytes of the notices it sent: what a browser's subscriptions cost the others.
    expect(hub.subscribe(watcher.client, ['track_x'])).toBe(0);
    const joined = hub.subscribe(member.client, ['track_x', 'web_a']);
    expect(hub.subscribe(member.client, ['web_a', 'track_x', 'web_b'])).toBe(0);
    const left = hub.subscribe(member.client, ['web_b']);
    expect(watcher.received).toEqual([
      { data: { user_id: 2, uuid: 'u2' }, event: 'subscription', pipe: 'track_x', message_send_time: 5 },
      { data: { user_id: 2, uuid: 'u2' }, event: 'unsubscription', pipe: 'track_x', message_send_time: 5 },
    ]);
    expect([joined, left]).toEqual(watcher.received.map((notice) => JSON.stringify(notice).length));
    expect(member.received).toEqual([]);
    expect(['track_x', 'web_a', 'web_b'].map((pipe) => hub.subscribers(0, pipe).has(member.client))).toEqual([false, false, true]);
    hub.unsubscribeAll(member.client);
    expect(hub.subscribers(0, 'web_b').size).toBe(0);
  });
});
