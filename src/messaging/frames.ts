import type { DevId, UserId } from '../domain.js';

/** A frame to the browser, as CppComet's CometServerApi reads it. */
export interface CometMessage {
  data: unknown;
  pipe: string;
  event: string;
  /** The sender of a web_pipe2 message or a history entry; 0 when hidden or from the backend. */
  user_id?: number;
  /** Echoes the browser's request marker, so the answer reaches the right callback. */
  marker?: string;
  history?: boolean;
  fromQueue?: boolean;
  message_send_time?: number;
}

/**
 * The largest message text (users_messages, pipes_messages, users_data, web_pipe2): CppComet's browsers never
 * got frames over 64 KiB, and the gateway takes none bigger from them.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** A frame serialized once and written as is to every socket it goes to. */
export type EncodedFrame = Buffer;

/**
 * What a frame is to a browser that reads too slowly: a pipe message may be dropped (the oldest first),
 * a personal message or an answer to its own command never is.
 */
export type Delivery = 'pipe' | 'personal';

export const encodeFrame = (message: CometMessage): EncodedFrame => Buffer.from(JSON.stringify(message));

export const unixTime = (ms: number = Date.now()): number => Math.floor(ms / 1000);

/** What the messaging layer knows of a browser connection, from its URL and HTTP headers. */
export interface ClientInfo {
  userAgent: string;
  ip: string;
  origin: string;
  language: string;
}

/** One comet WebSocket as the messaging layer sees it; the gateway implements it. */
export interface CometClient {
  readonly devId: DevId;
  /** 0 for a connection without a valid key. */
  readonly userId: UserId;
  /** The `uuid` URL parameter: the browser's id, shown to track_ pipes and in users_in_pipes. */
  readonly uuid: string;
  readonly info: ClientInfo;
  /** Writes without waiting; false if the socket is gone or too far behind (it is then being closed). */
  send(frame: EncodedFrame, delivery: Delivery): boolean;
  close(code: number, reason: string): void;
}
