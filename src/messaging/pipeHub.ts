import type { DevId, PipeName } from '../domain.js';
import { encodeFrame, unixTime, type CometClient, type CometMessage } from './frames.js';
import { isTrackPipe } from './names.js';

/** CppComet's limit of subscriptions per socket. */
export const MAX_PIPES_PER_CLIENT = 32;

const NONE: ReadonlySet<CometClient> = new Set();
const NONE_PIPES: ReadonlySet<PipeName> = new Set();

/**
 * Live pipe subscriptions and fan-out. A frame is serialized once and written to each subscriber without
 * waiting for any of them: a slow socket only grows its own buffer (the gateway cuts it off).
 */
export class PipeHub {
  private readonly subscribersByPipe = new Map<string, Set<CometClient>>();
  private readonly pipesByClient = new Map<CometClient, ReadonlySet<PipeName>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Replaces the client's subscriptions; only actual changes are announced on track_ pipes. */
  subscribe(client: CometClient, pipes: Iterable<PipeName>): void {
    const next = new Set(pipes);
    const current = this.pipesByClient.get(client) ?? NONE_PIPES;
    for (const pipe of current) if (!next.has(pipe)) this.leave(client, pipe);
    for (const pipe of next) if (!current.has(pipe)) this.join(client, pipe);
    if (next.size > 0) this.pipesByClient.set(client, next);
    else this.pipesByClient.delete(client);
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
    const frame = encodeFrame(message);
    let delivered = 0;
    for (const client of subscribers) if (client !== except && client.send(frame)) delivered++;
    return delivered;
  }

  private join(client: CometClient, pipe: PipeName): void {
    // Announced before joining, so the newcomer does not hear itself (as CppComet).
    if (isTrackPipe(pipe)) this.announce(client, pipe, 'subscription');
    const key = pipeKey(client.devId, pipe);
    const subscribers = this.subscribersByPipe.get(key);
    if (subscribers) subscribers.add(client);
    else this.subscribersByPipe.set(key, new Set([client]));
  }

  private leave(client: CometClient, pipe: PipeName): void {
    const key = pipeKey(client.devId, pipe);
    const subscribers = this.subscribersByPipe.get(key);
    subscribers?.delete(client);
    if (subscribers?.size === 0) this.subscribersByPipe.delete(key);
    if (isTrackPipe(pipe)) this.announce(client, pipe, 'unsubscription');
  }

  private announce(client: CometClient, pipe: PipeName, event: 'subscription' | 'unsubscription'): void {
    const data = { user_id: client.userId, uuid: client.uuid };
    this.publish(client.devId, pipe, { data, event, pipe, message_send_time: unixTime(this.now()) });
  }
}

const pipeKey = (devId: DevId, pipe: PipeName): string => `${devId}:${pipe}`;
