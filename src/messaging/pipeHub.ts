import type { DevId, PipeName } from '../domain.js';
import { encodeFrame, unixTime, type CometClient, type CometMessage, type EncodedFrame } from './frames.js';
import { isTrackPipe } from './names.js';

/** CppComet's limit of subscriptions per socket. */
export const MAX_PIPES_PER_CLIENT = 32;

const NONE: ReadonlySet<CometClient> = new Set();
const NONE_PIPES: ReadonlySet<PipeName> = new Set();

/**
 * Live pipe subscriptions and fan-out. A frame is serialized once and written to each subscriber without
 * waiting for any of them: a socket that reads too slowly loses its own oldest pipe messages.
 */
export class PipeHub {
  private readonly subscribersByPipe = new Map<string, Set<CometClient>>();
  private readonly pipesByClient = new Map<CometClient, ReadonlySet<PipeName>>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Replaces the client's subscriptions; only actual changes are announced on track_ pipes. Returns the
   * bytes of the notices sent (each counted once, however many subscribers heard it).
   */
  subscribe(client: CometClient, pipes: Iterable<PipeName>): number {
    const next = new Set(pipes);
    const current = this.pipesByClient.get(client) ?? NONE_PIPES;
    let noticeBytes = 0;
    for (const pipe of current) if (!next.has(pipe)) noticeBytes += this.leave(client, pipe);
    for (const pipe of next) if (!current.has(pipe)) noticeBytes += this.join(client, pipe);
    if (next.size > 0) this.pipesByClient.set(client, next);
    else this.pipesByClient.delete(client);
    return noticeBytes;
  }

  unsubscribeAll(client: CometClient): void {
    this.subscribe(client, []);
  }

  subscribers(devId: DevId, pipe: PipeName): ReadonlySet<CometClient> {
    return this.subscribersByPipe.get(pipeKey(devId, pipe)) ?? NONE;
  }

  /** Sends to every subscriber but `except` (the sender); returns how many sockets took it. */
  publish(devId: DevId, pipe: PipeName, message: CometMessage, except?: CometClient): number {
    const subscribers = this.subscribersByPipe.get(pipeKey(devId, pipe));
    if (!subscribers) return 0;
    return this.fanOut(subscribers, encodeFrame(message), except);
  }

  private fanOut(subscribers: ReadonlySet<CometClient>, frame: EncodedFrame, except?: CometClient): number {
    let delivered = 0;
    for (const client of subscribers) if (client !== except && client.send(frame, 'pipe')) delivered++;
    return delivered;
  }

  /** Returns the bytes of the notice sent (0 for none). */
  private join(client: CometClient, pipe: PipeName): number {
    // Announced before joining, so the newcomer does not hear itself (as CppComet).
    const noticeBytes = isTrackPipe(pipe) ? this.announce(client, pipe, 'subscription') : 0;
    const key = pipeKey(client.devId, pipe);
    const subscribers = this.subscribersByPipe.get(key);
    if (subscribers) subscribers.add(client);
    else this.subscribersByPipe.set(key, new Set([client]));
    return noticeBytes;
  }

  private leave(client: CometClient, pipe: PipeName): number {
    const key = pipeKey(client.devId, pipe);
    const subscribers = this.subscribersByPipe.get(key);
    subscribers?.delete(client);
    if (subscribers?.size === 0) this.subscribersByPipe.delete(key);
    return isTrackPipe(pipe) ? this.announce(client, pipe, 'unsubscription') : 0;
  }

  /** Tells the pipe's subscribers; returns the notice's size if anyone heard it. */
  private announce(client: CometClient, pipe: PipeName, event: 'subscription' | 'unsubscription'): number {
    const subscribers = this.subscribersByPipe.get(pipeKey(client.devId, pipe));
    if (!subscribers) return 0;
    const data = { user_id: client.userId, uuid: client.uuid };
    const frame = encodeFrame({ data, event, pipe, message_send_time: unixTime(this.now()) });
    this.fanOut(subscribers, frame);
    return frame.length;
  }
}

const pipeKey = (devId: DevId, pipe: PipeName): string => `${devId}:${pipe}`;
