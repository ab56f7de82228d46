import type { DevId, PipeMessage, PipeName, QueuedMessage, UserId } from '../domain.js';

/** Values per (dev_id, key): one family of the store. */
export interface TenantValues<K, V> {
  /** Inserts or replaces. */
  put(devId: DevId, key: K, value: V): Promise<void>;
  /** The values of the keys that have one. */
  find(devId: DevId, keys: readonly K[]): Promise<Map<K, V>>;
  delete(devId: DevId, key: K): Promise<boolean>;
}

/**
 * Persistence of the messaging tables: personal messages waiting for offline users, pipe histories, pipe
 * settings, users' data and last-seen times. Async and returning copies, like the conference Store, so a
 * database-backed store can replace the in-memory one. Expired rows are never returned.
 */
export interface MessagingStore {
  /** Queues a personal message; beyond `maxPerUser` the user's oldest ones go. */
  queueMessage(message: QueuedMessage, maxPerUser: number): Promise<void>;
  /** The users' queued messages, oldest first. */
  findQueued(devId: DevId, userIds: readonly UserId[]): Promise<QueuedMessage[]>;
  /** Removes and returns the user's queued messages, oldest first. */
  takeQueued(devId: DevId, userId: UserId): Promise<QueuedMessage[]>;
  deleteQueued(devId: DevId, userId: UserId, ids: readonly string[]): Promise<number>;

  /** Appends to a pipe's history and keeps only its last `keep` messages. */
  appendPipeMessage(message: PipeMessage, keep: number): Promise<void>;
  /** The history of these pipes (undefined: every pipe of the dev_id), oldest first per pipe. */
  findPipeMessages(devId: DevId, pipes: readonly PipeName[] | undefined): Promise<PipeMessage[]>;
  /** Deletes these messages of the pipe, or (ids undefined) its whole history. */
  deletePipeMessages(devId: DevId, pipe: PipeName, ids?: readonly string[]): Promise<number>;

  /** `pipes_settings.length`: how many messages a pipe's history keeps. */
  readonly pipeLengths: TenantValues<PipeName, number>;
  /** `users_data`. */
  readonly userData: TenantValues<UserId, string>;
  /** When each user's last socket closed (epoch ms). */
  readonly lastSeen: TenantValues<UserId, number>;
}
