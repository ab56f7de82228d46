import type { DevId, UserId } from '../domain.js';
import type { CometClient } from './frames.js';

const NONE: ReadonlySet<CometClient> = new Set();

/** Which authenticated users are connected to this node, and with which sockets. */
export class Presence {
  private readonly byUser = new Map<string, Set<CometClient>>();

  /** Links an authenticated client to its user; true if it is the user's first socket. */
  add(client: CometClient): boolean {
    const key = userKey(client.devId, client.userId);
    const clients = this.byUser.get(key);
    if (clients) {
      clients.add(client);
      return false;
    }
    this.byUser.set(key, new Set([client]));
    return true;
  }

  /** True if it was the user's last socket. */
  remove(client: CometClient): boolean {
    const key = userKey(client.devId, client.userId);
    const clients = this.byUser.get(key);
    if (!clients?.delete(client)) return false;
    if (clients.size > 0) return false;
    this.byUser.delete(key);
    return true;
  }

  clientsOf(devId: DevId, userId: UserId): ReadonlySet<CometClient> {
    return this.byUser.get(userKey(devId, userId)) ?? NONE;
  }

  isOnline(devId: DevId, userId: UserId): boolean {
    return this.byUser.has(userKey(devId, userId));
  }
}

const userKey = (devId: DevId, userId: UserId): string => `${devId}:${userId}`;
