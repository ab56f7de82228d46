import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { DevId, UserId } from '../domain.js';
import { encodeFrame, type ClientInfo, type CometClient, type CometMessage, type EncodedFrame } from '../messaging/frames.js';
import { FloodGuard } from './floodGuard.js';

/** A browser that does not read its messages is cut off before it costs us memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export interface SocketIdentity {
  devId: DevId;
  /** 0 for a connection without a valid key. */
  userId: UserId;
  uuid: string;
  info: ClientInfo;
}

/** One comet WebSocket: what the messaging layer writes to, with its own flood guard. */
export class CometSocket implements CometClient {
  readonly devId: DevId;
  readonly userId: UserId;
  readonly uuid: string;
  readonly info: ClientInfo;
  readonly flood = new FloodGuard();

  constructor(
    private readonly ws: WebSocket,
    identity: SocketIdentity,
    private readonly log: Logger,
  ) {
    ({ devId: this.devId, userId: this.userId, uuid: this.uuid, info: this.info } = identity);
  }

  /** Never waits: a socket too far behind is terminated rather than slowing the sender down. */
  send(frame: EncodedFrame): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.log.warn({ userId: this.userId }, 'comet socket not reading; closed');
      this.ws.terminate();
      return false;
    }
    this.ws.send(frame, { binary: false });
    return true;
  }

  reply(message: CometMessage): boolean {
    return this.send(encodeFrame(message));
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  /** At shutdown: gone at once, no closing handshake to wait for. */
  terminate(): void {
    this.ws.terminate();
  }
}
