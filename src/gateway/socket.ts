import { WebSocket } from 'ws';
import type { DevId, UserId } from '../domain.js';
import { encodeFrame, type ClientInfo, type CometClient, type CometMessage, type Delivery, type EncodedFrame } from '../messaging/frames.js';
import { FloodGuard } from './floodGuard.js';
import { Outbox } from './outbox.js';

export interface SocketLimits {
  /** Bytes handed to the WebSocket (and so beyond recall) while the browser has not read them yet. */
  inFlightBytes: number;
  /** Bytes kept back for a browser that reads too slowly; past it, its oldest pipe messages go. */
  outboxBytes: number;
  /** A browser that reads nothing for this long while frames wait for it is gone: its memory is freed. */
  stallMs: number;
}

export const SOCKET_LIMITS: SocketLimits = { inFlightBytes: 256 * 1024, outboxBytes: 1024 * 1024, stallMs: 60_000 };

export interface SocketIdentity {
  devId: DevId;
  /** 0 for a connection without a valid key. */
  userId: UserId;
  uuid: string;
  info: ClientInfo;
}

/** What the gateway hears of a browser that reads too slowly. */
export interface SlowReaderEvents {
  /** Pipe messages dropped for it, its oldest first. */
  dropped(socket: CometSocket, count: number): void;
  /** It is cut off: its personal messages and answers alone overflowed its outbox, or it read nothing for too long. */
  cutOff(socket: CometSocket, reason: 'overflow' | 'stalled'): void;
}

/**
 * One comet WebSocket: what the messaging layer writes to, with its own flood guard. Writing never waits:
 * what the browser is slow to read waits in its outbox, where its oldest pipe messages are dropped first.
 */
export class CometSocket implements CometClient {
  readonly devId: DevId;
  readonly userId: UserId;
  readonly uuid: string;
  readonly info: ClientInfo;
  readonly flood = new FloodGuard();
  private readonly outbox: Outbox;
  /** Runs while frames wait in the outbox; every frame the browser takes restarts it. */
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    identity: SocketIdentity,
    private readonly slowReader: SlowReaderEvents,
    private readonly limits: SocketLimits = SOCKET_LIMITS,
  ) {
    ({ devId: this.devId, userId: this.userId, uuid: this.uuid, info: this.info } = identity);
    this.outbox = new Outbox(limits.outboxBytes);
    ws.once('close', () => clearTimeout(this.stallTimer));
  }

  isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: EncodedFrame, delivery: Delivery): boolean {
    if (!this.isOpen()) return false;
    if (this.outbox.isEmpty() && this.ws.bufferedAmount < this.limits.inFlightBytes) {
      this.write(frame);
      return true;
    }
    this.stallTimer ??= setTimeout(() => this.cutOff('stalled'), this.limits.stallMs).unref();
    const dropped = this.outbox.push(frame, delivery === 'pipe');
    if (dropped > 0) this.slowReader.dropped(this, dropped);
    if (!this.outbox.isOverflowing()) return true;
    this.cutOff('overflow');
    return false;
  }

  /** A personal frame: an answer to the browser's command, or a message to its user. */
  reply(message: CometMessage): boolean {
    return this.send(encodeFrame(message), 'personal');
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  /** At shutdown: gone at once, no closing handshake to wait for. */
  terminate(): void {
    this.ws.terminate();
  }

  private write(frame: EncodedFrame): void {
    this.ws.send(frame, { binary: false }, this.written);
  }

  /** Each frame written out (or failed at close) makes room for what waits in the outbox. */
  private readonly written = (): void => {
    if (!this.stallTimer) return;
    while (!this.outbox.isEmpty() && this.isOpen() && this.ws.bufferedAmount < this.limits.inFlightBytes) this.write(this.outbox.shift()!);
    if (!this.outbox.isEmpty()) this.stallTimer.refresh();
    else {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    }
  };

  private cutOff(reason: 'overflow' | 'stalled'): void {
    this.slowReader.cutOff(this, reason);
    this.ws.terminate();
  }
}
