import { randomUUID } from 'node:crypto';
import type { DevId, PipeName, UserId } from '../domain.js';
import { isTrustPipe } from './names.js';
import type { MessagingStore } from './store.js';

/** trust_ pipes keep what was said in the last two minutes, as CppComet's cleanup job did. */
export const TRUST_HISTORY_MS = 120_000;
/** The largest history a pipe keeps (CppComet clamped pipes_settings.length to it). */
export const MAX_HISTORY_LENGTH = 1000;

/** A requested pipes_settings.length, clamped to 0…1000 as CppComet did. */
export const historyLength = (requested: number): number => Math.min(Math.max(requested, 0), MAX_HISTORY_LENGTH);

/** Which pipe messages are kept, and for how long: the retention rules over the store. */
export class PipeHistory {
  constructor(
    private readonly store: MessagingStore,
    private readonly now: () => number,
  ) {}

  /** Keeps a message if the pipe has a history (a pipes_settings length, or the trust_ prefix); true if kept. */
  async record(devId: DevId, pipe: PipeName, event: string, message: string, userId: UserId): Promise<boolean> {
    const length = (await this.store.pipeLengths.find(devId, [pipe])).get(pipe) ?? 0;
    const trust = isTrustPipe(pipe);
    if (length === 0 && !trust) return false;
    const time = this.now();
    const expiresAt = trust ? time + TRUST_HISTORY_MS : null;
    await this.store.appendPipeMessage({ devId, pipe, id: randomUUID(), time, event, message, userId, expiresAt }, length || MAX_HISTORY_LENGTH);
    return true;
  }

  /** Sets how many messages the pipe keeps; a shorter history is trimmed at its next message. */
  setLength(devId: DevId, pipe: PipeName, length: number): Promise<void> {
    return this.store.pipeLengths.put(devId, pipe, historyLength(length));
  }

  /** Removes the pipe's setting and what it kept; true if it had a setting. */
  async forget(devId: DevId, pipe: PipeName): Promise<boolean> {
    await this.store.deletePipeMessages(devId, pipe);
    return this.store.pipeLengths.delete(devId, pipe);
  }
}
