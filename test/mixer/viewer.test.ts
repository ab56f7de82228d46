import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserFleet, eventually, newMixerWorld } from './harness.js';

describe('mixer: a viewer-only member', () => {
  const world = newMixerWorld();
  const fleet = new BrowserFleet();
  beforeAll(async () => {
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400 });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600 });
    // `stream = 1` in the invitation: this user watches and sends nothing.
    await world.model.inviteUser({ devId: 0, room: 'r', userId: 3, callerId: 1, message: '{}', profile: 'grid', viewerOnly: true });
    await fleet.join(world, { userId: 3, colour: 'yellow', tone: 800 });
  }, 60_000);
  afterAll(async () => {
    await fleet.close();
    await world.mixer.close();
  });

  it('receives the broadcast view of the others and has no tile, no decoder and no voice', async () => {
    await eventually(async () => {
      for (const userId of [1, 2, 3]) expect(await fleet.call('tiles', userId, 'grid', 2), `member ${userId}`).toEqual(['red', 'blue']);
    }, 15_000);
    expect(world.mixer.stats().videoDecoders).toBe(2);
    expect(world.mixer.stats().videoEncoders).toBe(1);
    // Its camera and microphone never reach anyone: nobody hears its 800 Hz tone.
    const [heard] = await fleet.call('tonePowers', 1, 400, [800]);
    const [others] = await fleet.call('tonePowers', 1, 400, [600]);
    expect(heard).toBeLessThan(others! / 50);
    expect((await world.model.findMembers(0, { userIds: [3] }))[0]!.viewerOnly).toBe(true);
  });
});
