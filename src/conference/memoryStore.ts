import { roomKey, type DevId, type Invitation, type Member, type MemberControls, type RoomName, type UserId, type UserKey } from '../domain.js';
import type { RoomUserFilter, Store, StoreCounts } from './store.js';

const rowKey = (devId: DevId, room: RoomName, userId: UserId): string => `${roomKey(devId, room)}\u0000${userId}`;

/** Deep copy for plain data: callers never hold the store's own objects. */
const copy = <T>(value: T): T => structuredClone(value);

function matches(row: { room: RoomName; userId: UserId }, filter: RoomUserFilter): boolean {
  return (!filter.rooms || filter.rooms.includes(row.room)) && (!filter.userIds || filter.userIds.includes(row.userId));
}

/** Rows of one kind keyed by (devId, room, userId), indexed by dev_id so a tenant's query never scans others. */
class RoomUserTable<T extends { devId: DevId; room: RoomName; userId: UserId }> {
  private readonly byDev = new Map<DevId, Map<string, T>>();
  private total = 0;

  put(row: T): void {
    let rows = this.byDev.get(row.devId);
    if (!rows) this.byDev.set(row.devId, (rows = new Map()));
    const key = rowKey(row.devId, row.room, row.userId);
    if (!rows.has(key)) this.total++;
    rows.set(key, copy(row));
  }

  get(devId: DevId, room: RoomName, userId: UserId): T | undefined {
    const row = this.byDev.get(devId)?.get(rowKey(devId, room, userId));
    return row && copy(row);
  }

  find(devId: DevId | undefined, filter: RoomUserFilter): T[] {
    const tenants = devId === undefined ? [...this.byDev.values()] : [this.byDev.get(devId)];
    const out: T[] = [];
    for (const rows of tenants) {
      if (!rows) continue;
      if (devId !== undefined && filter.rooms && filter.userIds) {
        // Exact keys: look them up instead of scanning the tenant.
        for (const room of filter.rooms) {
          for (const userId of filter.userIds) {
            const row = rows.get(rowKey(devId, room, userId));
            if (row) out.push(copy(row));
          }
        }
        continue;
      }
      for (const row of rows.values()) if (matches(row, filter)) out.push(copy(row));
    }
    return out;
  }

  delete(devId: DevId, room: RoomName, userId: UserId): T | undefined {
    const rows = this.byDev.get(devId);
    const key = rowKey(devId, room, userId);
    const row = rows?.get(key);
    if (!rows || !row) return undefined;
    rows.delete(key);
    this.total--;
    if (rows.size === 0) this.byDev.delete(devId);
    return row;
  }

  get size(): number {
    return this.total;
  }

  rooms(): number {
    const rooms = new Set<string>();
    for (const rows of this.byDev.values()) for (const row of rows.values()) rooms.add(roomKey(row.devId, row.room));
    return rooms.size;
  }
}

/** The embedded store: everything in this process's memory, lost on restart. */
export class MemoryStore implements Store {
  private readonly keys = new Map<string, UserKey>();
  private readonly invitations = new RoomUserTable<Invitation>();
  private readonly members = new RoomUserTable<Member>();
  private readonly presets = new RoomUserTable<{ devId: DevId; room: RoomName; userId: UserId; controls: MemberControls }>();

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
