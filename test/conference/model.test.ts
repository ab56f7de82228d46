import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ConferenceError, ConferenceModel } from '../../src/conference/model.js';
import { MemoryStore } from '../../src/conference/memoryStore.js';
import { callPipe } from '../../src/conference/invitePayload.js';
import { loadProfiles } from '../../src/profiles.js';
import { SHIPPED_CONF_DIR } from '../../src/config.js';
import type { LeaveReason, Member } from '../../src/domain.js';

const settings = { serverName: 'mcu.example', serverPort: 8087, pipesalt: 'pipesalt' };
const newModel = () => new ConferenceModel(new MemoryStore(), loadProfiles(join(SHIPPED_CONF_DIR, 'profiles.ini')), settings);
const invite = (model: ConferenceModel, room: string, userId: number, extra: { viewerOnly?: boolean } = {}) =>
  model.inviteUser({ devId: 0, room, userId, callerId: 1, message: '{}', profile: 'video', viewerOnly: extra.viewerOnly ?? false });

describe('the conference model', () => {
  it('admits only invited users, up to the profile limit', async () => {
    const model = newModel();
    await expect(model.join({ devId: 0, room: '1', userId: 5, profile: 'video' })).rejects.toMatchObject({ kind: 'not-invited' });
    for (let userId = 1; userId <= 17; userId++) await invite(model, '1', userId);
    for (let userId = 1; userId <= 16; userId++) await model.join({ devId: 0, room: '1', userId, profile: 'video' });
    await expect(model.join({ devId: 0, room: '1', userId: 17, profile: 'video' })).rejects.toBeInstanceOf(ConferenceError);
    // Joining again (a reconnect) replaces the membership instead of counting twice.
    await model.join({ devId: 0, room: '1', userId: 3, profile: 'video' });
    expect((await model.findMembers(0, { rooms: ['1'] })).length).toBe(16);
  });

  describe('openness, which is the room\'s', () => {
    const profiles = loadProfiles(join(SHIPPED_CONF_DIR, 'profiles.ini'));
    const video = profiles.get('video')!;
    // An operator's open profile for small drop-in rooms.
    const withOpen = new Map([...profiles, ['lobby', { ...video, name: 'lobby', open: true, maxMembers: 2 }]]);
    const openModel = (store = new MemoryStore()) => {
      let clock = 0;
      return new ConferenceModel(store, withOpen, settings, () => ++clock);
    };
    const dial = (model: ConferenceModel, room: string, userId: number, profile: string) => model.join({ devId: 0, room, userId, profile });

    it('keeps a room with an invitation closed to anyone uninvited, whatever profile they dial', async () => {
      const model = openModel();
      await invite(model, 'closed', 1);
      await expect(dial(model, 'closed', 9, 'lobby')).rejects.toMatchObject({ kind: 'not-invited' });
      expect(await model.findMembers(0, { rooms: ['closed'] })).toEqual([]);
      await expect(dial(model, 'closed', 1, 'video')).resolves.toMatchObject({ profile: 'video' });
      await expect(dial(model, 'closed', 9, 'lobby')).rejects.toMatchObject({ kind: 'not-invited' });
    });

    it('keeps a room running under a closed profile closed once its invitations are gone', async () => {
      const store = new MemoryStore();
      const model = openModel(store);
      await invite(model, 'r', 1);
      await dial(model, 'r', 1, 'video');
      // Gone behind the model's back (another node, a hand-edited database): the member stays.
      await store.deleteInvitation(0, 'r', 1);
      await expect(dial(model, 'r', 9, 'lobby')).rejects.toMatchObject({ kind: 'not-invited' });
    });

    it('lets an uninvited user start a room only under an open profile, and others join it under that', async () => {
      const model = openModel();
      await expect(dial(model, 'free', 9, 'video')).rejects.toMatchObject({ kind: 'not-invited' });
      await expect(dial(model, 'free', 9, 'lobby')).resolves.toMatchObject({ profile: 'lobby', viewerOnly: false });
      // Running: the room's profile decides, not the one dialled.
      await expect(dial(model, 'free', 8, 'video')).resolves.toMatchObject({ profile: 'lobby' });
    });

    it('never locks an invited user out: the room\'s profile is kept, uninvited members give way when it is full', async () => {
      const model = openModel();
      const left: string[] = [];
      model.on('memberLeft', (member: Member, reason: LeaveReason) => left.push(`${member.userId} ${reason}`));
      await dial(model, 'r', 8, 'lobby');
      await dial(model, 'r', 9, 'lobby');
      // The backend invites into the room while it runs open and full: it is closed from now on.
      await invite(model, 'r', 1);
      await invite(model, 'r', 2);
      await expect(dial(model, 'r', 7, 'lobby')).rejects.toMatchObject({ kind: 'not-invited' });
      await expect(dial(model, 'r', 1, 'video')).resolves.toMatchObject({ profile: 'lobby' });
      expect(left).toEqual(['9 uninvited']);
      await dial(model, 'r', 2, 'video');
      expect(left).toEqual(['9 uninvited', '8 uninvited']);
      // Full of invited members: the next invited user is refused like anyone.
      await invite(model, 'r', 3);
      await expect(dial(model, 'r', 3, 'video')).rejects.toMatchObject({ kind: 'room-full' });
      expect((await model.findMembers(0, { rooms: ['r'] })).map((m) => m.userId).sort()).toEqual([1, 2]);
    });
  });

  it('keeps tenants apart', async () => {
    const model = newModel();
    await invite(model, 'r', 1);
    expect(await model.findInvitations(1, { rooms: ['r'] })).toEqual([]);
    await expect(model.join({ devId: 1, room: 'r', userId: 1, profile: 'video' })).rejects.toMatchObject({ kind: 'not-invited' });
  });

  it('emits joined, changed and left events with reasons', async () => {
    const model = newModel();
    const events: string[] = [];
    model.on('memberJoined', (m: Member) => events.push(`joined ${m.userId}`));
    model.on('memberChanged', (m: Member, changed) => events.push(`changed ${m.userId} ${changed.join(',')}`));
    model.on('memberLeft', (m: Member, reason: LeaveReason) => events.push(`left ${m.userId} ${reason}`));
    model.on('keyRevoked', (devId, userId) => events.push(`revoked ${devId}/${userId}`));
    await invite(model, 'r', 1, { viewerOnly: true });
    await invite(model, 'r', 2);
    await model.setKey({ devId: 0, userId: 2, hash: 'k' });
    const viewer = await model.join({ devId: 0, room: 'r', userId: 1, profile: 'video' });
    expect(viewer.viewerOnly).toBe(true);
    await model.join({ devId: 0, room: 'r', userId: 2, profile: 'video' });
    await model.setTalking(0, 'r', 2, true);
    await model.setTalking(0, 'r', 2, true); // no change, no event
    await model.updateControls(0, 'r', 1, { audio: false });
    await model.uninvite(0, 'r', 1);
    await model.revokeKey(0, 2);
    expect(events).toEqual([
      'joined 1',
      'joined 2',
      'changed 2 talking',
      'changed 1 audio',
      'left 1 uninvited',
      'revoked 0/2',
      'left 2 key-revoked',
    ]);
    expect((await model.findMembers(0, {})).length).toBe(0);
  });

  it('never hands out its own objects', async () => {
    const model = newModel();
    await invite(model, 'r', 1);
    const member = await model.join({ devId: 0, room: 'r', userId: 1, profile: 'video' });
    member.controls.audio = false;
    const [again] = await model.findMembers(0, { rooms: ['r'] });
    expect(again!.controls.audio).toBe(true);
  });

  it('checks keys in constant time and only for the right tenant', async () => {
    const model = newModel();
    await model.setKey({ devId: 3, userId: 7, hash: 'secret' });
    expect(await model.authenticate(3, 7, 'secret')).toBe(true);
    expect(await model.authenticate(3, 7, 'secreT')).toBe(false);
    expect(await model.authenticate(0, 7, 'secret')).toBe(false);
  });

  it("derives CppComet's callPipe: per room, salted, only characters A..z", () => {
    const pipe = callPipe('0*101*video', settings, 0);
    expect(pipe).toMatch(/^web_syscall_vA_[A-z]+$/);
    expect(callPipe('0*101*video', settings, 0)).toBe(pipe);
    expect(callPipe('0*102*video', settings, 0)).not.toBe(pipe);
    expect(callPipe('0*101*video', { ...settings, pipesalt: 'other' }, 0)).not.toBe(pipe);
  });
});
