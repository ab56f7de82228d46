import type { BroadcastSettings, DevId, Invitation, Member, MemberControls, RoomName, UserId, UserKey } from '../domain.js';
import type { Database } from '../storage/database.js';
import { MemoryStore } from './memoryStore.js';
import type { RoomUserFilter, Store, StoreCounts } from './store.js';

interface InvitationRow {
  room: RoomName;
  user_id: UserId;
  caller_id: UserId;
  message: string;
  profile: string;
  viewer_only: number;
  node: string;
  call_key: string;
  created_at: number;
}

/** `AND room IN (…) AND user_id IN (…)` for the lists the filter has. */
function filterSql(filter: RoomUserFilter): { sql: string; values: unknown[] } {
  const parts: string[] = [];
  const values: unknown[] = [];
  if (filter.rooms) {
    parts.push(' AND room IN (?)');
    values.push(filter.rooms);
  }
  if (filter.userIds) {
    parts.push(' AND user_id IN (?)');
    values.push(filter.userIds);
  }
  return { sql: parts.join(''), values };
}

const isEmpty = (filter: RoomUserFilter): boolean => filter.rooms?.length === 0 || filter.userIds?.length === 0;

/**
 * The conference store in MySQL: keys, invitations, preset controls and broadcast settings outlive the
 * process. Members stay in memory: a member is a live WebRTC leg of this process, gone when it stops, and
 * they are read on every talking change and event fan-out. The pool belongs to whoever opened it.
 */
export class MysqlStore implements Store {
  private readonly live = new MemoryStore();

  constructor(private readonly db: Database) {}

  async getKey(devId: DevId, userId: UserId): Promise<UserKey | undefined> {
    const [key] = await this.findKeys(devId, [userId]);
    return key;
  }

  async findKeys(devId: DevId, userIds: readonly UserId[]): Promise<UserKey[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.rows<{ user_id: UserId; hash: string }>(
      'SELECT user_id, hash FROM users_auth WHERE dev_id = ? AND user_id IN (?)',
      [devId, userIds],
    );
    const byUser = new Map(rows.map((row) => [row.user_id, row.hash]));
    return userIds.flatMap((userId) => {
      const hash = byUser.get(userId);
      return hash === undefined ? [] : [{ devId, userId, hash }];
    });
  }

  async putKey(key: UserKey): Promise<void> {
    await this.db.run('REPLACE INTO users_auth (dev_id, user_id, hash) VALUES (?, ?, ?)', [key.devId, key.userId, key.hash]);
  }

  async deleteKey(devId: DevId, userId: UserId): Promise<boolean> {
    return (await this.db.run('DELETE FROM users_auth WHERE dev_id = ? AND user_id = ?', [devId, userId])) > 0;
  }

  async putInvitation(invitation: Invitation): Promise<void> {
    const { devId, room, userId, callerId, message, profile, viewerOnly, node, callKey, createdAt } = invitation;
    await this.db.run(
      'REPLACE INTO conference (dev_id, room, user_id, caller_id, message, profile, viewer_only, node, call_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [devId, room, userId, callerId, message, profile, viewerOnly, node, callKey, createdAt],
    );
  }

  async findInvitations(devId: DevId, filter: RoomUserFilter): Promise<Invitation[]> {
    if (isEmpty(filter)) return [];
    const where = filterSql(filter);
    const rows = await this.db.rows<InvitationRow>(
      `SELECT room, user_id, caller_id, message, profile, viewer_only, node, call_key, created_at FROM conference WHERE dev_id = ?${where.sql} ORDER BY room, user_id`,
      [devId, ...where.values],
    );
    return rows.map((row) => ({
      devId,
      room: row.room,
      userId: row.user_id,
      callerId: row.caller_id,
      message: row.message,
      profile: row.profile,
      viewerOnly: row.viewer_only === 1,
      node: row.node,
      callKey: row.call_key,
      createdAt: row.created_at,
    }));
  }

  async deleteInvitation(devId: DevId, room: RoomName, userId: UserId): Promise<Invitation | undefined> {
    const [invitation] = await this.findInvitations(devId, { rooms: [room], userIds: [userId] });
    if (!invitation) return undefined;
    const deleted = await this.db.run('DELETE FROM conference WHERE dev_id = ? AND room = ? AND user_id = ?', [devId, room, userId]);
    // Withdrawn meanwhile by another query: that one reports it.
    return deleted > 0 ? invitation : undefined;
  }

  putMember(member: Member): Promise<void> {
    return this.live.putMember(member);
  }

  getMember(devId: DevId, room: RoomName, userId: UserId): Promise<Member | undefined> {
    return this.live.getMember(devId, room, userId);
  }

  findMembers(devId: DevId | undefined, filter: RoomUserFilter): Promise<Member[]> {
    return this.live.findMembers(devId, filter);
  }

  deleteMember(devId: DevId, room: RoomName, userId: UserId): Promise<Member | undefined> {
    return this.live.deleteMember(devId, room, userId);
  }

  async putPresetControls(devId: DevId, room: RoomName, userId: UserId, controls: MemberControls): Promise<void> {
    await this.db.run('REPLACE INTO conference_presets (dev_id, room, user_id, controls) VALUES (?, ?, ?, ?)', [devId, room, userId, JSON.stringify(controls)]);
  }

  async getPresetControls(devId: DevId, room: RoomName, userId: UserId): Promise<MemberControls | undefined> {
    const [row] = await this.db.rows<{ controls: string }>(
      'SELECT controls FROM conference_presets WHERE dev_id = ? AND room = ? AND user_id = ?',
      [devId, room, userId],
    );
    return row && (JSON.parse(row.controls) as MemberControls);
  }

  async deletePresetControls(devId: DevId, room: RoomName): Promise<void> {
    await this.db.run('DELETE FROM conference_presets WHERE dev_id = ? AND room = ?', [devId, room]);
  }

  async putBroadcastSettings(devId: DevId, room: RoomName, settings: BroadcastSettings): Promise<void> {
    await this.db.run('REPLACE INTO conference_broadcast (dev_id, room, settings) VALUES (?, ?, ?)', [devId, room, JSON.stringify(settings)]);
  }

  async findBroadcastSettings(devId: DevId, rooms: readonly RoomName[] | undefined): Promise<{ room: RoomName; settings: BroadcastSettings }[]> {
    if (rooms?.length === 0) return [];
    const where = filterSql({ rooms });
    const rows = await this.db.rows<{ room: RoomName; settings: string }>(
      `SELECT room, settings FROM conference_broadcast WHERE dev_id = ?${where.sql} ORDER BY room`,
      [devId, ...where.values],
    );
    return rows.map((row) => ({ room: row.room, settings: JSON.parse(row.settings) as BroadcastSettings }));
  }

  async deleteBroadcastSettings(devId: DevId, room: RoomName): Promise<boolean> {
    return (await this.db.run('DELETE FROM conference_broadcast WHERE dev_id = ? AND room = ?', [devId, room])) > 0;
  }

  async counts(): Promise<StoreCounts> {
    const [[stored], live] = await Promise.all([
      this.db.rows<{ k: number; i: number }>('SELECT (SELECT COUNT(*) FROM users_auth) AS k, (SELECT COUNT(*) FROM conference) AS i'),
      this.live.counts(),
    ]);
    return { keys: stored!.k, invitations: stored!.i, rooms: live.rooms, members: live.members };
  }

  async close(): Promise<void> {
    await this.live.close();
  }
}
