import { EventEmitter } from 'node:events';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import {
  DEFAULT_CONTROLS,
  type BroadcastOutputState,
  type BroadcastSettings,
  roomKey,
  type Conference,
  type DevId,
  type Invitation,
  type LeaveReason,
  type Member,
  type MemberControls,
  type Profile,
  type RoomName,
  type UserId,
  type UserKey,
} from '../domain.js';
import type { RoomUserFilter, Store, StoreCounts } from './store.js';
import { sipCallPayload, type InviteSettings, type SipCallPayload } from './invitePayload.js';

/** What the model tells the layers around it; listeners must not throw. */
export interface ConferenceEvents {
  invited: [invitation: Invitation, payload: SipCallPayload];
  uninvited: [invitation: Invitation];
  keyRevoked: [devId: DevId, userId: UserId];
  memberJoined: [member: Member];
  memberLeft: [member: Member, reason: LeaveReason];
  memberChanged: [member: Member, changed: readonly (keyof MemberControls | 'talking')[]];
  /** A room's own broadcast settings changed (null: back to its profile's). */
  broadcastChanged: [devId: DevId, room: RoomName, settings: BroadcastSettings | null];
}

/** Live broadcasts as the media layer reports them: which rooms of a tenant broadcast, and how it goes. */
export type BroadcastStatusSource = (devId: DevId) => { room: RoomName; settings: BroadcastSettings; outputs: BroadcastOutputState[] }[];

export type ConferenceErrorKind = 'unknown-profile' | 'not-invited' | 'room-full';

/** A request the model refuses; `kind` lets each front end answer in its own terms (ERR packet, SIP status). */
export class ConferenceError extends Error {
  override name = 'ConferenceError';
  constructor(
    readonly kind: ConferenceErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export type InvitationInput = Omit<Invitation, 'callKey' | 'createdAt' | 'node'>;

export interface JoinRequest {
  devId: DevId;
  room: RoomName;
  userId: UserId;
  profile: string;
}

/**
 * The conference model: users' keys, invitations, rooms and their members. The one place that knows
 * them; CometQL tables are views of it, SIP asks it to admit members, the mixer reports talking to it.
 */
export class ConferenceModel extends EventEmitter<ConferenceEvents> {
  private broadcastStatus: BroadcastStatusSource | undefined;

  /** Listens to several of the model's events at once; returns what stops all of them. */
  subscribe(handlers: { [E in keyof ConferenceEvents]?: (...args: ConferenceEvents[E]) => void }): () => void {
    // Each handler is typed by its event above; one loop over all of them cannot say which is which.
    const entries = Object.entries(handlers) as [keyof ConferenceEvents, (...args: never[]) => void][];
    for (const [event, handler] of entries) this.on(event, handler as never);
    return () => {
      for (const [event, handler] of entries) this.off(event, handler as never);
    };
  }

  constructor(
    private readonly store: Store,
    private readonly profiles: ReadonlyMap<string, Profile>,
    private readonly invite: InviteSettings,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  profile(name: string): Profile | undefined {
    return this.profiles.get(name);
  }

  /** `host:port` of this node, as the `node` column shows it. */
  get node(): string {
    return `${this.invite.serverName}:${this.invite.serverPort}`;
  }

  // ---- users' keys -------------------------------------------------------------------------------

  setKey(key: UserKey): Promise<void> {
    return this.store.putKey(key);
  }

  findKeys(devId: DevId, userIds: readonly UserId[]): Promise<UserKey[]> {
    return this.store.findKeys(devId, userIds);
  }

  /** Deletes the key; the user's sockets close and they leave every room they are in. */
  async revokeKey(devId: DevId, userId: UserId): Promise<boolean> {
    const existed = await this.store.deleteKey(devId, userId);
    if (!existed) return false;
    this.emit('keyRevoked', devId, userId);
    for (const member of await this.store.findMembers(devId, { userIds: [userId] })) {
      await this.leave(devId, member.room, userId, 'key-revoked');
    }
    return true;
  }

  /** Compares in constant time, so a wrong key's timing tells nothing about the right one. */
  async authenticate(devId: DevId, userId: UserId, hash: string): Promise<boolean> {
    const key = await this.store.getKey(devId, userId);
    if (!key) return false;
    const expected = Buffer.from(key.hash);
    const given = Buffer.from(hash);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  // ---- invitations -------------------------------------------------------------------------------

  async inviteUser(input: InvitationInput): Promise<Invitation> {
    const profile = this.requireProfile(input.profile);
    const invitation: Invitation = { ...input, node: this.node, callKey: randomUUID(), createdAt: this.now() };
    await this.store.putInvitation(invitation);
    this.emit('invited', invitation, sipCallPayload(invitation, profile, this.invite));
    return invitation;
  }

  findInvitations(devId: DevId, filter: RoomUserFilter): Promise<Invitation[]> {
    return this.store.findInvitations(devId, filter);
  }

  /** Removes the invitation and hangs up the user if they are in the room (CppComet kicked nobody). */
  async uninvite(devId: DevId, room: RoomName, userId: UserId): Promise<Invitation | undefined> {
    const invitation = await this.store.deleteInvitation(devId, room, userId);
    if (invitation) this.emit('uninvited', invitation);
    await this.leave(devId, room, userId, 'uninvited');
    return invitation;
  }

  // ---- members -----------------------------------------------------------------------------------

  /**
   * Admits a user to a room. Openness is the room's, never the dialled profile's: a room that has any
   * invitation, or runs under a closed profile, admits only its invited users; a room without invitations is
   * open to any user with a key while it runs under an open profile, or, empty, when the profile dialled to
   * start it is open. A running room keeps its profile: whoever joins, joins under it, so dialling another
   * profile neither opens a room nor locks anyone out of it; the dialled profile only starts an empty room.
   * An invited user who finds the room full takes the place of the latest member who came in uninvited
   * (while the room was open). Joining again replaces the earlier membership (a browser that reconnects).
   */
  async join(request: JoinRequest): Promise<Member> {
    const { devId, room, userId } = request;
    const dialled = this.requireProfile(request.profile);
    const invitations = await this.store.findInvitations(devId, { rooms: [room] });
    const invited = new Set(invitations.map((invitation) => invitation.userId));
    const invitation = invitations.find((candidate) => candidate.userId === userId);
    const present = await this.store.findMembers(devId, { rooms: [room] });
    const profile = present[0] ? this.requireProfile(present[0].profile) : dialled;
    if (!invitation && (invitations.length > 0 || !profile.open)) {
      throw new ConferenceError('not-invited', `user ${userId} is not invited to room ${room}, which is closed`);
    }
    const others = present.filter((member) => member.userId !== userId);
    const excess = others.length - profile.maxMembers + 1;
    if (excess > 0) {
      const guests = invitation ? others.filter((member) => !invited.has(member.userId)).sort((a, b) => b.joinedAt - a.joinedAt) : [];
      if (guests.length < excess) throw new ConferenceError('room-full', `room ${room} is full (${profile.maxMembers} members)`);
      for (const guest of guests.slice(0, excess)) await this.leave(devId, room, guest.userId, 'uninvited');
    }
    const controls = (await this.store.getPresetControls(devId, room, userId)) ?? { ...DEFAULT_CONTROLS };
    const member: Member = {
      devId,
      room,
      userId,
      profile: profile.name,
      viewerOnly: invitation?.viewerOnly ?? false,
      joinedAt: this.now(),
      lastTalkingAt: null,
      talking: false,
      controls,
    };
    await this.store.putMember(member);
    this.emit('memberJoined', member);
    return member;
  }

  async leave(devId: DevId, room: RoomName, userId: UserId, reason: LeaveReason): Promise<Member | undefined> {
    const member = await this.store.deleteMember(devId, room, userId);
    if (!member) return undefined;
    if ((await this.store.findMembers(devId, { rooms: [room] })).length === 0) {
      // The member is gone whatever happens here: a store that fails has logged it, and the media and the
      // browsers must still hear of the leave. Leftover presets only wait for the room's next members.
      await this.store.deletePresetControls(devId, room).catch(() => undefined);
    }
    this.emit('memberLeft', member, reason);
    return member;
  }

  findMembers(devId: DevId | undefined, filter: RoomUserFilter): Promise<Member[]> {
    return this.store.findMembers(devId, filter);
  }

  /** Changes a present member's controls; undefined if the user is not in the room. */
  async updateControls(
    devId: DevId,
    room: RoomName,
    userId: UserId,
    changes: Partial<MemberControls>,
  ): Promise<Member | undefined> {
    const member = await this.store.getMember(devId, room, userId);
    if (!member) return undefined;
    const changed = changedKeys(member.controls, changes);
    if (changed.length === 0) return member;
    member.controls = { ...member.controls, ...changes };
    await this.store.putMember(member);
    await this.store.putPresetControls(devId, room, userId, member.controls);
    this.emit('memberChanged', member, changed);
    return member;
  }

  /**
   * Sets controls for a user whether or not they are in the room yet: a present member changes now,
   * an absent one gets them when joining. Kept until the room empties.
   */
  async presetControls(devId: DevId, room: RoomName, userId: UserId, changes: Partial<MemberControls>): Promise<void> {
    if (await this.updateControls(devId, room, userId, changes)) return;
    const preset = (await this.store.getPresetControls(devId, room, userId)) ?? { ...DEFAULT_CONTROLS };
    await this.store.putPresetControls(devId, room, userId, { ...preset, ...changes });
  }

  /** Reported by the mixer's voice activity detection. */
  async setTalking(devId: DevId, room: RoomName, userId: UserId, talking: boolean): Promise<void> {
    const member = await this.store.getMember(devId, room, userId);
    if (!member || member.talking === talking) return;
    member.talking = talking;
    if (talking) member.lastTalkingAt = this.now();
    await this.store.putMember(member);
    this.emit('memberChanged', member, ['talking']);
  }

  /** Rooms that have members now. */
  async conferences(devId: DevId | undefined): Promise<Conference[]> {
    const rooms = new Map<string, Conference>();
    for (const member of await this.store.findMembers(devId, {})) {
      const key = roomKey(member.devId, member.room);
      const conference = rooms.get(key);
      if (conference) {
        conference.members++;
        conference.startedAt = Math.min(conference.startedAt, member.joinedAt);
      } else {
        rooms.set(key, { devId: member.devId, room: member.room, profile: member.profile, startedAt: member.joinedAt, members: 1 });
      }
    }
    return [...rooms.values()];
  }

  counts(): Promise<StoreCounts> {
    return this.store.counts();
  }

  // ---- broadcasting -------------------------------------------------------------------------------

  /** Gives a room its own broadcast settings (null: its profile's again); a live room follows at once. */
  async setBroadcastSettings(devId: DevId, room: RoomName, settings: BroadcastSettings | null): Promise<boolean> {
    const changed = settings ? (await this.store.putBroadcastSettings(devId, room, settings), true) : await this.store.deleteBroadcastSettings(devId, room);
    if (changed) this.emit('broadcastChanged', devId, room, settings);
    return changed;
  }

  findBroadcastSettings(devId: DevId, rooms: readonly RoomName[] | undefined): Promise<{ room: RoomName; settings: BroadcastSettings }[]> {
    return this.store.findBroadcastSettings(devId, rooms);
  }

  /** What a room broadcasts: its own settings, or its profile's. */
  async broadcastSettingsOf(devId: DevId, room: RoomName, profile: Profile): Promise<BroadcastSettings> {
    const [own] = await this.store.findBroadcastSettings(devId, [room]);
    return own?.settings ?? profile.broadcast;
  }

  /** The media layer registers where live broadcasts can be read from. */
  reportBroadcastsFrom(source: BroadcastStatusSource): void {
    this.broadcastStatus = source;
  }

  liveBroadcasts(devId: DevId): ReturnType<BroadcastStatusSource> {
    return this.broadcastStatus?.(devId) ?? [];
  }

  private requireProfile(name: string): Profile {
    const profile = this.profiles.get(name);
    if (!profile) throw new ConferenceError('unknown-profile', `unknown profile "${name}"`);
    return profile;
  }
}

function changedKeys(current: MemberControls, changes: Partial<MemberControls>): (keyof MemberControls)[] {
  return (Object.keys(changes) as (keyof MemberControls)[]).filter(
    (key) => JSON.stringify(current[key]) !== JSON.stringify(changes[key]),
  );
}
