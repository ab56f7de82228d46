import type { CometClient } from '../messaging/frames.js';
import { TokenBucket, type Rate } from './floodGuard.js';

export interface SendRates {
  socket: Rate;
  /** Shared by all the sockets of one address, so opening more sockets buys no more. */
  address: Rate;
}

/**
 * Bytes per second. A chat or a call's signalling sends a few KB at a time; a 64 KiB message still passes
 * at once, and a flood is held to a rate every subscriber can follow.
 */
export const SEND_RATES: SendRates = {
  socket: { burst: 512 * 1024, perSecond: 128 * 1024 },
  address: { burst: 2 * 1024 * 1024, perSecond: 512 * 1024 },
};

/** Addresses remembered at most; past it, those that owe least are forgotten first. */
const MAX_ADDRESSES = 100_000;

/**
 * What browsers may make the server send on their behalf, in bytes: web_pipe2 messages to the pipe's
 * subscribers, track_ notices, and the histories and lists they ask for. Per socket and per address; a
 * command is refused while either is spent, and its cost is charged after (see TokenBucket's debt).
 */
export class SendBudget {
  private readonly sockets = new WeakMap<CometClient, TokenBucket>();
  private readonly addresses = new Map<string, TokenBucket>();

  constructor(
    private readonly rates: SendRates = SEND_RATES,
    private readonly now: () => number = Date.now,
    private readonly maxAddresses = MAX_ADDRESSES,
  ) {}

  allows(client: CometClient): boolean {
    return this.ofSocket(client).allows() && this.ofAddress(client.info.ip).allows();
  }

  spend(client: CometClient, bytes: number): void {
    this.ofSocket(client).spend(bytes);
    this.ofAddress(client.info.ip).spend(bytes);
  }

  private ofSocket(client: CometClient): TokenBucket {
    let bucket = this.sockets.get(client);
    if (!bucket) this.sockets.set(client, (bucket = new TokenBucket(this.rates.socket, this.now)));
    return bucket;
  }

  private ofAddress(address: string): TokenBucket {
    let bucket = this.addresses.get(address);
    if (!bucket) {
      if (this.addresses.size >= this.maxAddresses) this.forget();
      this.addresses.set(address, (bucket = new TokenBucket(this.rates.address, this.now)));
    }
    return bucket;
  }

  /**
   * Makes room for a tenth of the addresses, forgetting those that owe least: whoever spends from many
   * addresses cannot wipe out a debt that way.
   */
  private forget(): void {
    const byDebt = [...this.addresses].map(([address, bucket]) => ({ address, tokens: bucket.available() }));
    byDebt.sort((a, b) => b.tokens - a.tokens);
    for (const { address } of byDebt.slice(0, this.addresses.size - Math.floor(this.maxAddresses * 0.9))) this.addresses.delete(address);
  }
}
