import type { BroadcastSettings, DevId, Invitation, Member, MemberControls, RoomName, UserId, UserKey } from '../domain.js';

/** Selects rows by their key columns; an absent list means "any". */
export interface RoomUserFilter {
  rooms?: readonly RoomName[];
  userIds?: readonly UserId[];
}

export interface StoreCounts {
  keys: number;
  invitations: number;
  rooms: number;
  members: number;
}

/**
 * Persistence of the conference model. Every method is async and returns copies, so a database-backed
 * store can replace the in-memory one without the callers noticing. Everything is scoped by dev_id.
 */
export interface Store {
  getKey(devId: DevId, userId: UserId): Promise<UserKey | undefined>;
  findKeys(devId: DevId, userIds: readonly UserId[]): Promise<UserKey[]>;
  /** Inserts or replaces. */
  putKey(key: UserKey): Promise<void>;
  deleteKey(devId: DevId, userId: UserId): Promise<boolean>;

  /** Inserts or replaces the invitation of (devId, room, userId). */
  putInvitation(invitation: Invitation): Promise<void>;
  findInvitations(devId: DevId, filter: RoomUserFilter): Promise<Invitation[]>;
  deleteInvitation(devId: DevId, room: RoomName, userId: UserId): Promise<Invitation | undefined>;

  /** Inserts or replaces the member (devId, room, userId). */
  putMember(member: Member): Promise<void>;
  getMember(devId: DevId, room: RoomName, userId: UserId): Promise<Member | undefined>;
  /** devId undefined: every tenant (for the mixer and metrics). */
  findMembers(devId: DevId | undefined, filter: RoomUserFilter): Promise<Member[]>;
  deleteMember(devId: DevId, room: RoomName, userId: UserId): Promise<Member | undefined>;

  /** Controls set for a user of a room before (or while) they are in it; applied when they join. */
  putPresetControls(devId: DevId, room: RoomName, userId: UserId, controls: MemberControls): Promise<void>;
  getPresetControls(devId: DevId, room: RoomName, userId: UserId): Promise<MemberControls | undefined>;
  deletePresetControls(devId: DevId, room: RoomName): Promise<void>;

  /** A room's own broadcast settings (conference_broadcast), replacing its profile's. */
  putBroadcastSettings(devId: DevId, room: RoomName, settings: BroadcastSettings): Promise<void>;
  findBroadcastSettings(devId: DevId, rooms: readonly RoomName[] | undefined): Promise<{ room: RoomName; settings: BroadcastSettings }[]>;
  deleteBroadcastSettings(devId: DevId, room: RoomName): Promise<boolean>;

  counts(): Promise<StoreCounts>;
  close(): Promise<void>;
}
