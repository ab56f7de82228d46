import { randomUUID } from 'node:crypto';
import type { DevId, PipeName, UserId } from '../domain.js';
import { encodeFrame, unixTime, type CometClient, type CometMessage } from './frames.js';
import { PipeHistory } from './history.js';
import { MemoryMessagingStore } from './memoryStore.js';
import { userStatusPipe } from './names.js';
import { PipeHub } from './pipeHub.js';
import { Presence } from './presence.js';
import type { MessagingStore } from './store.js';

/** How long a users_messages row waits for its offline user (CppComet deleted them after 120 s). */
export const PERSONAL_QUEUE_TTL_MS = 120_000;
const MAX_QUEUED_PER_USER = 100;

/** A web_pipe2 message's origin: the socket that does not hear it back, and the user_id shown (0: hidden). */
export interface Sender {
  client: CometClient;
  userId: UserId;
}

/**
 * The messaging service: who is online, pipe subscriptions and fan-out, personal messages with their
 * offline queue, pipe histories. The CometQL tables and the comet WebSocket are its two front ends.
 */
export class Messaging {
  readonly presence = new Presence();
  readonly pipes: PipeHub;
  readonly history: PipeHistory;

  constructor(
    readonly store: MessagingStore = new MemoryMessagingStore(),
    private readonly now: () => number = Date.now,
  ) {
    this.pipes = new PipeHub(now);
    this.history = new PipeHistory(store, now);
  }

  /** A socket opened: an authenticated user's first one puts them online (announced on user_status_<id>). */
  connect(client: CometClient): void {
    if (client.userId > 0 && this.presence.add(client)) this.announceStatus(client, 'online');
  }

  /** A socket closed: it leaves its pipes; a user's last one puts them offline and sets their users_time. */
  async disconnect(client: CometClient): Promise<void> {
    this.pipes.unsubscribeAll(client);
    if (client.userId === 0 || !this.presence.remove(client)) return;
    this.announceStatus(client, 'offline');
    await this.store.lastSeen.put(client.devId, client.userId, this.now());
  }

  /**
   * Sends a personal message (pipe `msg`) to every socket of the user. If none takes it and `queueTtlMs`
   * is not null, it waits that long for the user's next connection. Resolves with the sockets reached.
   */
  async sendToUser(devId: DevId, userId: UserId, event: string, data: unknown, queueTtlMs: number | null = PERSONAL_QUEUE_TTL_MS): Promise<number> {
    const now = this.now();
    const clients = this.presence.clientsOf(devId, userId);
    let delivered = 0;
    // Encoded only for someone to read: most invitations of a busy backend go to users not online.
    if (clients.size > 0) {
      const frame = encodeFrame({ data, pipe: 'msg', event, message_send_time: unixTime(now) });
      for (const client of clients) if (client.send(frame, 'personal')) delivered++;
    }
    if (delivered === 0 && queueTtlMs !== null) {
      // Queued as text, as CppComet did: an object arrives later as its JSON string.
      const message = typeof data === 'string' ? data : JSON.stringify(data);
      const queued = { devId, userId, id: randomUUID(), event, message, queuedAt: now, expiresAt: now + queueTtlMs };
      await this.store.queueMessage(queued, MAX_QUEUED_PER_USER);
    }
    return delivered;
  }

  /** The messages that waited for the user, as frames flagged fromQueue; they leave the queue. */
  async takeQueued(devId: DevId, userId: UserId): Promise<CometMessage[]> {
    const queued = await this.store.takeQueued(devId, userId);
    return queued.map((message) => ({
      data: message.message,
      pipe: 'msg',
      event: message.event,
      fromQueue: true,
      message_send_time: unixTime(message.queuedAt),
    }));
  }

  /**
   * Sends to the pipe's subscribers (not back to a browser sender) and keeps the message if the pipe has
   * a history. Resolves with the sockets reached, once the history is written.
   */
  async publish(devId: DevId, pipe: PipeName, event: string, message: string, sender?: Sender): Promise<number> {
    const frame: CometMessage = { data: message, pipe, event, message_send_time: unixTime(this.now()) };
    if (sender) frame.user_id = sender.userId;
    const delivered = this.pipes.publish(devId, pipe, frame, sender?.client);
    await this.history.record(devId, pipe, event, message, sender?.userId ?? 0);
    return delivered;
  }

  /** `users_time`: 0 while online here, else the unix time the user was last seen, or -1 if never. */
  async usersTime(devId: DevId, userIds: readonly UserId[]): Promise<Map<UserId, number>> {
    const lastSeen = await this.store.lastSeen.find(devId, userIds);
    return new Map(
      userIds.map((userId) => {
        if (this.presence.isOnline(devId, userId)) return [userId, 0];
        const seen = lastSeen.get(userId);
        return [userId, seen === undefined ? -1 : unixTime(seen)];
      }),
    );
  }

  private announceStatus(client: CometClient, status: 'online' | 'offline'): void {
    const pipe = userStatusPipe(client.userId);
    this.pipes.publish(client.devId, pipe, { data: status, event: status, pipe, message_send_time: unixTime(this.now()) });
  }
}
