/**
 * The browser's comet connection: CppComet's WebSocket URL and frames, reconnecting with backoff after a
 * drop. Frames from the server are JSON `{data, pipe, event, ...}`; `serverInfo` says whether the key was
 * accepted and carries the ICE servers the page should use.
 */

export interface CometFrame {
  data: unknown;
  pipe: string;
  event: string;
  fromQueue?: boolean;
  authorized?: boolean;
  iceServers?: RTCIceServer[];
}

export interface CometOptions {
  /** `host:port` of the server; default: the page's. */
  node?: string;
  user_id: number;
  user_key: string;
  dev_id?: number;
  /** Force wss:// (it is used anyway on an https page). */
  wss?: boolean;
}

type Listener = (frame: CometFrame) => void;

const uuid = (): string => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

export class CometConnection {
  private socket: WebSocket | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private retryMs = 500;
  private closed = false;
  private readonly uuid = uuid();

  constructor(private readonly options: CometOptions) {}

  get node(): string {
    return this.options.node ?? location.host;
  }

  get secure(): boolean {
    return this.options.wss ?? location.protocol === 'https:';
  }

  /** Listens to `pipe.event` (or a whole `pipe`) frames. */
  on(name: string, listener: Listener): void {
    const set = this.listeners.get(name) ?? new Set();
    set.add(listener);
    this.listeners.set(name, set);
  }

  connect(): void {
    const { user_id: userId, user_key: key, dev_id: devId = 0 } = this.options;
    const url = `${this.secure ? 'wss' : 'ws'}://${this.node}/ws/sesion=${encodeURIComponent(key)}&myid=${userId}&devid=${devId}&v=4.08&uuid=${this.uuid}&api=js`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => (this.retryMs = 500);
    socket.onmessage = (message) => {
      let frame: CometFrame;
      try {
        frame = JSON.parse(String(message.data)) as CometFrame;
      } catch {
        return;
      }
      for (const name of [frame.pipe, `${frame.pipe}.${frame.event}`]) for (const listener of this.listeners.get(name) ?? []) listener(frame);
    };
    socket.onclose = (event) => {
      if (this.closed) return;
      // 4001: the key was revoked; reconnecting with it would only be refused.
      if (event.code === 4001) {
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
