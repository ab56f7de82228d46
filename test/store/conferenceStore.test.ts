import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SHIPPED_CONF_DIR } from '../../src/config.js';
import { MemoryStore } from '../../src/conference/memoryStore.js';
import { MysqlStore } from '../../src/conference/mysqlStore.js';
import type { Store } from '../../src/conference/store.js';
import { DEFAULT_CONTROLS, type BroadcastSettings, type Invitation, type Member } from '../../src/domain.js';
import { loadProfiles } from '../../src/profiles.js';
import { openEmptyDatabase, useMariaDB } from './database.js';

const mariadb = useMariaDB();

/** The same contract, run against every implementation of Store. */
const implementations: { name: string; open(): Promise<{ store: Store; close(): Promise<void> }> }[] = [
  {
    name: 'memory',
    async open() {
      const store = new MemoryStore();
      return { store, close: () => store.close() };
    },
  },
  {
    name: 'MySQL',
    async open() {
      const db = await openEmptyDatabase(mariadb());
      const store = new MysqlStore(db);
      return { store, close: async () => (await store.close(), await db.close()) };
    },
  },
];

/** A profile's broadcast settings with some changed: whatever fields BroadcastSettings has, they round-trip. */
const shippedBroadcast = loadProfiles(join(SHIPPED_CONF_DIR, 'profiles.ini')).get('video')!.broadcast;
const broadcast = (changes: Partial<BroadcastSettings>): BroadcastSettings => ({ ...shippedBroadcast, ...changes });

const invitation = (room: string, userId: number, changes: Partial<Invitation> = {}): Invitation => ({
  devId: 0,
  room,
  userId,
  callerId: 1,
  message: `call ${room}`,
  profile: 'video',
  viewerOnly: false,
  node: 'localhost:8087',
  callKey: `key-${room}-${userId}`,
  createdAt: 1_700_000_000_000 + userId,
  ...changes,
});

const member = (devId: number, room: string, userId: number): Member => ({
  devId,
  room,
  userId,
  profile: 'video',
  viewerOnly: false,
  joinedAt: 1_700_000_000_000,
  lastTalkingAt: null,
  talking: false,
  controls: { ...DEFAULT_CONTROLS },
});

const byRoomAndUser = (rows: { room: string; userId: number }[]) =>
  rows.map((row) => `${row.room}/${row.userId}`).sort();

describe.each(implementations)('the conference store in $name', (implementation) => {
  let store: Store;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ store, close } = await implementation.open());
  });
  afterEach(() => close());

  it('keeps keys per tenant, replaces them and deletes them', async () => {
    await store.putKey({ devId: 0, userId: 7, hash: 'AbC=+/_9' });
    await store.putKey({ devId: 1, userId: 7, hash: 'other' });
    await store.putKey({ devId: 0, userId: 8, hash: 'h8' });
    expect(await store.getKey(0, 7)).toEqual({ devId: 0, userId: 7, hash: 'AbC=+/_9' });
    expect(await store.findKeys(0, [9, 8, 7])).toEqual([
      { devId: 0, userId: 8, hash: 'h8' },
      { devId: 0, userId: 7, hash: 'AbC=+/_9' },
    ]);
    expect(await store.findKeys(0, [])).toEqual([]);
    await store.putKey({ devId: 0, userId: 7, hash: 'abc' });
    expect((await store.getKey(0, 7))?.hash).toBe('abc');
    expect(await store.deleteKey(0, 7)).toBe(true);
    expect(await store.deleteKey(0, 7)).toBe(false);
    expect(await store.getKey(0, 7)).toBeUndefined();
    expect((await store.getKey(1, 7))?.hash).toBe('other');
  });

  it('finds invitations by room, by user, by both or all, with every field as written', async () => {
    const big = `${'é'.repeat(30_000)} 'quoted' "double" \\ 😀`;
    await store.putInvitation(invitation('101', 1, { message: big, viewerOnly: true, callerId: 0 }));
    await store.putInvitation(invitation('101', 2));
    await store.putInvitation(invitation('Room', 2));
    await store.putInvitation(invitation('room', 3));
    await store.putInvitation(invitation('101', 2, { devId: 5 }));
    expect(await store.findInvitations(0, { rooms: ['101'], userIds: [1] })).toEqual([
      invitation('101', 1, { message: big, viewerOnly: true, callerId: 0 }),
    ]);
    expect(byRoomAndUser(await store.findInvitations(0, { rooms: ['101'] }))).toEqual(['101/1', '101/2']);
    expect(byRoomAndUser(await store.findInvitations(0, { userIds: [2] }))).toEqual(['101/2', 'Room/2']);
    expect(byRoomAndUser(await store.findInvitations(0, {}))).toEqual(['101/1', '101/2', 'Room/2', 'room/3']);
    expect(await store.findInvitations(0, { rooms: [] })).toEqual([]);
    expect(byRoomAndUser(await store.findInvitations(5, {}))).toEqual(['101/2']);

    await store.putInvitation(invitation('101', 2, { message: 'again', callKey: 'new' }));
    expect((await store.findInvitations(0, { rooms: ['101'], userIds: [2] }))[0]).toMatchObject({ message: 'again', callKey: 'new' });
    expect(await store.deleteInvitation(0, 'room', 3)).toEqual(invitation('room', 3));
    expect(await store.deleteInvitation(0, 'room', 3)).toBeUndefined();
    expect(byRoomAndUser(await store.findInvitations(0, {}))).toEqual(['101/1', '101/2', 'Room/2']);
  });

  it('keeps members of every tenant and counts them with keys and invitations', async () => {
    await store.putMember(member(0, 'a', 1));
    await store.putMember(member(0, 'a', 2));
    await store.putMember(member(3, 'b', 1));
    await store.putKey({ devId: 0, userId: 1, hash: 'h' });
    await store.putInvitation(invitation('a', 1));
    await store.putInvitation(invitation('a', 2));
    expect(await store.counts()).toEqual({ keys: 1, invitations: 2, rooms: 2, members: 3 });
    expect(byRoomAndUser(await store.findMembers(undefined, { userIds: [1] }))).toEqual(['a/1', 'b/1']);
    const changed = { ...member(0, 'a', 2), talking: true, controls: { ...DEFAULT_CONTROLS, watch: [1] } };
    await store.putMember(changed);
    expect(await store.getMember(0, 'a', 2)).toEqual(changed);
    expect(await store.deleteMember(0, 'a', 2)).toEqual(changed);
    expect(await store.getMember(0, 'a', 2)).toBeUndefined();
    expect((await store.counts()).members).toBe(2);
  });

  it('returns copies: changing what it returned changes nothing stored', async () => {
    await store.putMember(member(0, 'a', 1));
    const read = (await store.getMember(0, 'a', 1))!;
    read.controls.audio = false;
    read.talking = true;
    expect(await store.getMember(0, 'a', 1)).toEqual(member(0, 'a', 1));
    await store.putPresetControls(0, 'a', 1, { ...DEFAULT_CONTROLS, watch: [2] });
    (await store.getPresetControls(0, 'a', 1))!.watch!.push(3);
    expect((await store.getPresetControls(0, 'a', 1))!.watch).toEqual([2]);
  });

  it('keeps preset controls per user of a room until the room is cleared', async () => {
    const muted = { audio: false, video: true, deaf: true, layout: 'speaker' as const, watch: [3, 1] };
    await store.putPresetControls(0, 'a', 1, muted);
    await store.putPresetControls(0, 'a', 2, { ...DEFAULT_CONTROLS });
    await store.putPresetControls(0, 'b', 1, { ...DEFAULT_CONTROLS, video: false });
    expect(await store.getPresetControls(0, 'a', 1)).toEqual(muted);
    expect(await store.getPresetControls(1, 'a', 1)).toBeUndefined();
    await store.putPresetControls(0, 'a', 1, { ...muted, audio: true });
    expect((await store.getPresetControls(0, 'a', 1))?.audio).toBe(true);
    await store.deletePresetControls(0, 'a');
    expect(await store.getPresetControls(0, 'a', 1)).toBeUndefined();
    expect(await store.getPresetControls(0, 'a', 2)).toBeUndefined();
    expect(await store.getPresetControls(0, 'b', 1)).toEqual({ ...DEFAULT_CONTROLS, video: false });
  });

  it("keeps rooms' own broadcast settings", async () => {
    const pushed = broadcast({ rtmp: 'rtmp://127.0.0.1/live/${conference_name}', hls: true, layout: 'speaker' });
    await store.putBroadcastSettings(0, 'a', pushed);
    await store.putBroadcastSettings(0, 'b', broadcast({ record: '/tmp/${time}.mp4' }));
    await store.putBroadcastSettings(2, 'a', broadcast({}));
    expect(await store.findBroadcastSettings(0, ['a', 'zzz'])).toEqual([{ room: 'a', settings: pushed }]);
    expect((await store.findBroadcastSettings(0, undefined)).map((row) => row.room).sort()).toEqual(['a', 'b']);
    expect(await store.findBroadcastSettings(0, [])).toEqual([]);
    expect(await store.deleteBroadcastSettings(0, 'a')).toBe(true);
    expect(await store.deleteBroadcastSettings(0, 'a')).toBe(false);
    expect((await store.findBroadcastSettings(0, undefined)).map((row) => row.room)).toEqual(['b']);
    expect(await store.findBroadcastSettings(2, ['a'])).toEqual([{ room: 'a', settings: broadcast({}) }]);
  });
});
