import type { ConferenceModel } from '../conference/model.js';
import { roomKey, type DevId, type RoomName } from '../domain.js';
import type { ViewerTokens } from '../security/viewerTokens.js';
import { StoreError } from '../storage/storeError.js';

/** Players ask many times a second; a room's privacy is read from the store at most this often. */
const REMEMBERED_MS = 2000;
/** Only rooms with something to serve are looked up, so few are remembered; this only caps a surprise. */
const MAX_REMEMBERED = 10_000;

/**
 * Who may watch a room's embedded HLS/DASH: anyone while it has something to serve and is not private
 * (conference_broadcast.private), otherwise only the holder of a viewer token for it. Every refusal is
 * the same, whether the room is private, ended, never existed or the token is forged or expired, so
 * nobody learns which rooms there are.
 */
export class BroadcastAccess {
  private readonly privacy = new Map<string, { private: boolean; until: number }>();
  private readonly detach: () => void;

  constructor(
    private readonly model: ConferenceModel,
    private readonly tokens: ViewerTokens,
    private readonly servesSomething: (devId: DevId, room: RoomName) => Promise<boolean>,
  ) {
    // A change made on this node counts at once; one made through another node within REMEMBERED_MS.
    this.detach = model.subscribe({ broadcastChanged: (devId, room) => this.privacy.delete(roomKey(devId, room)) });
  }

  /** `token`: the request's `?token=`, if it has one; one that does not verify is refused, private room or not. */
  async allows(devId: DevId, room: RoomName, token: string | null): Promise<boolean> {
    if (token !== null) return this.tokens.verify(token, devId, room);
    return (await this.servesSomething(devId, room)) && !(await this.isPrivate(devId, room));
  }

  close(): void {
    this.detach();
  }

  private async isPrivate(devId: DevId, room: RoomName): Promise<boolean> {
    const key = roomKey(devId, room);
    const known = this.privacy.get(key);
    if (known && known.until > Date.now()) return known.private;
    let own: Awaited<ReturnType<ConferenceModel['findBroadcastSettings']>>;
    try {
      own = await this.model.findBroadcastSettings(devId, [room]);
    } catch (error) {
      // A store away cannot say the room is public: refuse until it answers again.
      if (error instanceof StoreError) return true;
      throw error;
    }
    const isPrivate = own[0]?.settings.private === true;
    if (this.privacy.size >= MAX_REMEMBERED) this.privacy.clear();
    this.privacy.set(key, { private: isPrivate, until: Date.now() + REMEMBERED_MS });
    return isPrivate;
  }
}
