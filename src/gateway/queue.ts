import type { DevId, UserId } from '../domain.js';

interface Queued<T> {
  message: T;
  expiresAt: number;
}

/**
 * Messages for users who are offline, delivered when they next connect. Bounded per user and in time,
 * as CppComet kept them 120 s.
 */
export class OfflineQueue<T> {
  private readonly queues = new Map<string, Queued<T>[]>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxPerUser: number,
    private readonly now: () => number = Date.now,
  ) {}

  push(devId: DevId, userId: UserId, message: T): void {
    const key = `${devId}:${userId}`;
    const queue = this.live(key);
    queue.push({ message, expiresAt: this.now() + this.ttlMs });
    if (queue.length > this.maxPerUser) queue.splice(0, queue.length - this.maxPerUser);
    this.queues.set(key, queue);
  }

  /** Removes and returns the user's unexpired messages, oldest first. */
  take(devId: DevId, userId: UserId): T[] {
    const key = `${devId}:${userId}`;
    const queue = this.live(key);
    this.queues.delete(key);
    return queue.map((entry) => entry.message);
  }

  /** Drops expired messages of every user; called periodically. */
  sweep(): void {
    for (const key of [...this.queues.keys()]) {
      const queue = this.live(key);
      if (queue.length === 0) this.queues.delete(key);
      else this.queues.set(key, queue);
    }
  }

  get size(): number {
    let total = 0;
    for (const queue of this.queues.values()) total += queue.length;
    return total;
  }

  private live(key: string): Queued<T>[] {
    const now = this.now();
    return (this.queues.get(key) ?? []).filter((entry) => entry.expiresAt > now);
  }
}
