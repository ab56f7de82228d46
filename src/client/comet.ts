/**
 * The browser's comet connection: CppComet's WebSocket URL and frames, reconnecting with backoff after a
 * drop. Frames from the server are JSON `{data, pipe, event, ...}`; `serverInfo` says whether the key was
 * accepted and carries the ICE servers the page should use. Commands to the server are text frames
 * `<command>\n<arguments>`, held back while the socket is not open.
 */

import { CLOSE_KEY_REVOKED } from '../domain.js';

export interface CometFrame {
  data: unknown;
  pipe: string;
  event: string;
  fromQueue?: boolean;
  authorized?: boolean;
  iceServers?: RTCIceServer[];
  /** The sender of a pipe message (0: the backend or a hidden sender). */
  user_id?: number;
  /** Echoes the marker of the request this frame answers. */
  marker?: string;
  history?: boolean;
}

export interface CometOptions {
  /** `host:port` of the server; default: the page's. */
  node?: string;
  user_id: number;
  user_key: string;
  dev_id?: number;
  /** Force wss:// (it is used anyway on an https page). */
  wss?: boolean;
  /** The browser's id, shown to track_ pipes; default: random per connection object. */
  uuid?: string;
}

type Listener = (frame: CometFrame) => void;

const uuid = (): string => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

export class CometConnection {
  private socket: WebSocket | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly openListeners = new Set<() => void>();
  private readonly pending: string[] = [];
  private retryMs = 500;
  private closed = false;
  private readonly uuid: string;

  constructor(private readonly options: CometOptions) {
    this.uuid = options.uuid ?? uuid();
  }

  get node(): string {
    return this.options.node ?? location.host;
  }

  get secure(): boolean {
    return this.options.wss ?? location.protocol === 'https:';
  }

  /** Listens to `pipe.event` (or a whole `pipe`) frames; `*` hears every frame. */
  on(name: string, listener: Listener): void {
    const set = this.listeners.get(name) ?? new Set();
    set.add(listener);
    this.listeners.set(name, set);
  }

  /** Called on every (re)connection, before held-back commands go: the place to subscribe again. */
  onOpen(listener: () => void): void {
    this.openListeners.add(listener);
  }

  /** Sends a command now, or as soon as the socket is open. */
  send(command: string): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(command);
    else this.pending.push(command);
  }

  connect(): void {
    const { user_id: userId, user_key: key, dev_id: devId = 0 } = this.options;
    const url = `${this.secure ? 'wss' : 'ws'}://${this.node}/ws/sesion=${encodeURIComponent(key)}&myid=${userId}&devid=${devId}&v=4.08&uuid=${this.uuid}&api=js`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.retryMs = 500;
      for (const listener of this.openListeners) listener();
      for (const command of this.pending.splice(0)) socket.send(command);
    };
    socket.onmessage = (message) => {
      let frame: CometFrame;
      try {
        frame = JSON.parse(String(message.data)) as CometFrame;
      } catch {
        return;
      }
      for (const name of [frame.pipe, `${frame.pipe}.${frame.event}`, '*']) for (const listener of this.listeners.get(name) ?? []) listener(frame);
    };
    socket.onclose = (event) => {
      if (this.closed) return;
      // The key was revoked; reconnecting with it would only be refused.
      if (event.code === CLOSE_KEY_REVOKED) {
        for (const listener of this.listeners.get('sys.revoked') ?? []) listener({ data: null, pipe: 'sys', event: 'revoked' });
        return;
      }
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }
}
