import { roomKey, type BroadcastSettings, type DevId, type Invitation, type Member, type MemberControls, type RoomName, type UserId, type UserKey } from '../domain.js';
import type { RoomUserFilter, Store, StoreCounts } from './store.js';

/** Copies of rows, so callers never hold the store's own objects (cheaper than structuredClone on the hot path). */
const copyControls = (controls: MemberControls): MemberControls => ({ ...controls, watch: controls.watch && [...controls.watch] });
const copyInvitation = (invitation: Invitation): Invitation => ({ ...invitation });
const copyMember = (member: Member): Member => ({ ...member, controls: copyControls(member.controls) });
type Preset = { devId: DevId; room: RoomName; userId: UserId; controls: MemberControls };
const copyPreset = (preset: Preset): Preset => ({ ...preset, controls: copyControls(preset.controls) });

/** Rows of one kind keyed by (devId, room, userId), nested so a room's rows are found without a scan. */
class RoomUserTable<T extends { devId: DevId; room: RoomName; userId: UserId }> {
  private readonly byDev = new Map<DevId, Map<RoomName, Map<UserId, T>>>();
  private total = 0;

  constructor(private readonly copy: (row: T) => T) {}

  put(row: T): void {
    let rooms = this.byDev.get(row.devId);
    if (!rooms) this.byDev.set(row.devId, (rooms = new Map()));
    let users = rooms.get(row.room);
    if (!users) rooms.set(row.room, (users = new Map()));
    if (!users.has(row.userId)) this.total++;
    users.set(row.userId, this.copy(row));
  }

  get(devId: DevId, room: RoomName, userId: UserId): T | undefined {
    const row = this.byDev.get(devId)?.get(room)?.get(userId);
    return row && this.copy(row);
  }

  /**
   * Each row once, however often the filter names it; per room the smaller of its rows and the filter's
   * users is walked, so long lists of both rooms and users cost their lengths, not their product.
   */
  find(devId: DevId | undefined, filter: RoomUserFilter): T[] {
    const tenants = devId === undefined ? [...this.byDev.values()] : [this.byDev.get(devId)];
    const userIds = filter.userIds && [...new Set(filter.userIds)];
    const wanted = userIds && new Set(userIds);
    const out: T[] = [];
    for (const rooms of tenants) {
      if (!rooms) continue;
      const selected = filter.rooms ? [...new Set(filter.rooms)].map((room) => rooms.get(room)) : [...rooms.values()];
      for (const users of selected) {
        if (!users) continue;
        if (userIds && userIds.length < users.size) {
          for (const userId of userIds) {
            const row = users.get(userId);
            if (row) out.push(this.copy(row));
          }
        } else {
          for (const row of users.values()) if (!wanted || wanted.has(row.userId)) out.push(this.copy(row));
        }
      }
    }
    return out;
  }

  delete(devId: DevId, room: RoomName, userId: UserId): T | undefined {
    const rooms = this.byDev.get(devId);
    const users = rooms?.get(room);
    const row = users?.get(userId);
    if (!rooms || !users || !row) return undefined;
    users.delete(userId);
    this.total--;
    if (users.size === 0) rooms.delete(room);
    if (rooms.size === 0) this.byDev.delete(devId);
    return row;
  }

  get size(): number {
    return this.total;
  }

  rooms(): number {
    let count = 0;
    for (const rooms of this.byDev.values()) count += rooms.size;
    return count;
  }
}

/** The embedded store: everything in this process's memory, lost on restart. */
export class MemoryStore implements Store {
  private readonly keys = new Map<string, UserKey>();
  private readonly invitations = new RoomUserTable<Invitation>(copyInvitation);
  private readonly members = new RoomUserTable<Member>(copyMember);
  private readonly presets = new RoomUserTable<Preset>(copyPreset);
  private readonly broadcastSettings = new Map<string, { devId: DevId; room: RoomName; settings: BroadcastSettings }>();

  async getKey(devId: DevId, userId: UserId): Promise<UserKey | undefined> {
    const key = this.keys.get(`${devId}:${userId}`);
    return key && { ...key };
  }

  async findKeys(devId: DevId, userIds: readonly UserId[]): Promise<UserKey[]> {
    const out: UserKey[] = [];
    for (const userId of userIds) {
      const key = this.keys.get(`${devId}:${userId}`);
      if (key) out.push({ ...key });
    }
    return out;
  }

  async putKey(key: UserKey): Promise<void> {
    this.keys.set(`${key.devId}:${key.userId}`, { ...key });
  }

  async deleteKey(devId: DevId, userId: UserId): Promise<boolean> {
    return this.keys.delete(`${devId}:${userId}`);
  }

  async putInvitation(invitation: Invitation): Promise<void> {
    this.invitations.put(invitation);
  }

  async findInvitations(devId: DevId, filter: RoomUserFilter): Promise<Invitation[]> {
    return this.invitations.find(devId, filter);
  }

  async deleteInvitation(devId: DevId, room: RoomName, userId: UserId): Promise<Invitation | undefined> {
    return this.invitations.delete(devId, room, userId);
  }

  async putMember(member: Member): Promise<void> {
    this.members.put(member);
  }

  async getMember(devId: DevId, room: RoomName, userId: UserId): Promise<Member | undefined> {
    return this.members.get(devId, room, userId);
  }

  async findMembers(devId: DevId | undefined, filter: RoomUserFilter): Promise<Member[]> {
    return this.members.find(devId, filter);
  }

  async deleteMember(devId: DevId, room: RoomName, userId: UserId): Promise<Member | undefined> {
    return this.members.delete(devId, room, userId);
  }

  async putPresetControls(devId: DevId, room: RoomName, userId: UserId, controls: MemberControls): Promise<void> {
    this.presets.put({ devId, room, userId, controls });
  }

  async getPresetControls(devId: DevId, room: RoomName, userId: UserId): Promise<MemberControls | undefined> {
    return this.presets.get(devId, room, userId)?.controls;
  }

  async deletePresetControls(devId: DevId, room: RoomName): Promise<void> {
    for (const preset of this.presets.find(devId, { rooms: [room] })) this.presets.delete(devId, room, preset.userId);
  }

  async putBroadcastSettings(devId: DevId, room: RoomName, settings: BroadcastSettings): Promise<void> {
    this.broadcastSettings.set(roomKey(devId, room), { devId, room, settings: { ...settings } });
  }

  async findBroadcastSettings(devId: DevId, rooms: readonly RoomName[] | undefined): Promise<{ room: RoomName; settings: BroadcastSettings }[]> {
    const rows = rooms
      ? rooms.map((room) => this.broadcastSettings.get(roomKey(devId, room)))
      : [...this.broadcastSettings.values()].filter((row) => row.devId === devId);
    return rows.filter((row) => row !== undefined).map((row) => ({ room: row.room, settings: { ...row.settings } }));
  }

  async deleteBroadcastSettings(devId: DevId, room: RoomName): Promise<boolean> {
    return this.broadcastSettings.delete(roomKey(devId, room));
  }

  async counts(): Promise<StoreCounts> {
    return {
      keys: this.keys.size,
      invitations: this.invitations.size,
      rooms: this.members.rooms(),
      members: this.members.size,
    };
  }

  async close(): Promise<void> {}
}
