import type { DevId, PipeMessage, PipeName, QueuedMessage, UserId } from '../domain.js';
import type { MessagingStore, TenantValues } from './store.js';

/** Expired rows are dropped on every read, and from everywhere at most this often (on a write). */
export const SWEEP_INTERVAL_MS = 60_000;

type Expiring = { id: string; expiresAt: number | null };

/** Lists of rows per (dev_id, key), oldest first: users' queues, pipes' histories. */
class ExpiringLists<K, T extends Expiring> {
  private readonly byDev = new Map<DevId, Map<K, T[]>>();

  constructor(private readonly now: () => number) {}

  /** Appends and keeps the last `keep` rows of the list. */
  append(devId: DevId, key: K, row: T, keep: number): void {
    let lists = this.byDev.get(devId);
    if (!lists) this.byDev.set(devId, (lists = new Map()));
    const list = this.live(lists.get(key) ?? []);
    list.push({ ...row });
    lists.set(key, list.length > keep ? list.slice(list.length - keep) : list);
  }

  /** Rows of these keys (undefined: every key), each list oldest first. */
  find(devId: DevId, keys: readonly K[] | undefined): T[] {
    const lists = this.byDev.get(devId);
    if (!lists) return [];
    const selected = keys ? keys.map((key) => lists.get(key)) : [...lists.values()];
    return selected.flatMap((list) => this.live(list ?? []).map((row) => ({ ...row })));
  }

  /** Removes the rows with these ids, or the whole list; returns how many live rows went. */
  delete(devId: DevId, key: K, ids?: readonly string[]): number {
    const lists = this.byDev.get(devId);
    const list = this.live(lists?.get(key) ?? []);
    const kept = ids ? list.filter((row) => !ids.includes(row.id)) : [];
    if (kept.length > 0) lists!.set(key, kept);
    else this.drop(devId, key);
    return list.length - kept.length;
  }

  sweep(): void {
    for (const [devId, lists] of this.byDev) {
      for (const [key, list] of lists) {
        const live = this.live(list);
        if (live.length > 0) lists.set(key, live);
        else this.drop(devId, key);
      }
    }
  }

  private drop(devId: DevId, key: K): void {
    const lists = this.byDev.get(devId);
    lists?.delete(key);
    if (lists?.size === 0) this.byDev.delete(devId);
  }

  private live(list: T[]): T[] {
    const now = this.now();
    return list.filter((row) => row.expiresAt === null || row.expiresAt > now);
  }
}

/** Values per (dev_id, key) in a map; also the MySQL store's cache of pipe lengths. */
export class MemoryValues<K, V> implements TenantValues<K, V> {
  private readonly values = new Map<string, V>();

  async put(devId: DevId, key: K, value: V): Promise<void> {
    this.values.set(`${devId}:${key}`, value);
  }

  async find(devId: DevId, keys: readonly K[]): Promise<Map<K, V>> {
    const found = new Map<K, V>();
    for (const key of keys) {
      const value = this.values.get(`${devId}:${key}`);
      if (value !== undefined) found.set(key, value);
    }
    return found;
  }

  async delete(devId: DevId, key: K): Promise<boolean> {
    return this.values.delete(`${devId}:${key}`);
  }
}

/** The embedded messaging store: this process's memory, lost on restart. */
export class MemoryMessagingStore implements MessagingStore {
  private readonly queues: ExpiringLists<UserId, QueuedMessage>;
  private readonly histories: ExpiringLists<PipeName, PipeMessage>;
  readonly pipeLengths = new MemoryValues<PipeName, number>();
  readonly userData = new MemoryValues<UserId, string>();
  readonly lastSeen = new MemoryValues<UserId, number>();
  private nextSweepAt = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.queues = new ExpiringLists(now);
    this.histories = new ExpiringLists(now);
  }

  async queueMessage(message: QueuedMessage, maxPerUser: number): Promise<void> {
    this.sweepIfDue();
    this.queues.append(message.devId, message.userId, message, maxPerUser);
  }

  async findQueued(devId: DevId, userIds: readonly UserId[]): Promise<QueuedMessage[]> {
    return this.queues.find(devId, userIds);
  }

  async takeQueued(devId: DevId, userId: UserId): Promise<QueuedMessage[]> {
    const messages = this.queues.find(devId, [userId]);
    this.queues.delete(devId, userId);
    return messages;
  }

  async deleteQueued(devId: DevId, userId: UserId, ids: readonly string[]): Promise<number> {
    return this.queues.delete(devId, userId, ids);
  }

  async appendPipeMessage(message: PipeMessage, keep: number): Promise<void> {
    this.sweepIfDue();
    this.histories.append(message.devId, message.pipe, message, keep);
  }

  async findPipeMessages(devId: DevId, pipes: readonly PipeName[] | undefined): Promise<PipeMessage[]> {
    return this.histories.find(devId, pipes);
  }

  async deletePipeMessages(devId: DevId, pipe: PipeName, ids?: readonly string[]): Promise<number> {
    return this.histories.delete(devId, pipe, ids);
  }

  private sweepIfDue(): void {
    const now = this.now();
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    this.queues.sweep();
    this.histories.sweep();
  }
}
