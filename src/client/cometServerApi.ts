/**
 * CometServerApi: CppComet's browser API for pipes and personal messages (its api/CometServerApi.js 4.08),
 * on the comet WebSocket of comet.ts. Served bundled as /CometServerApi.js, it defines CppComet's globals:
 * `cometServerApi` (the class, also `_cometServerApi`), `cometApi` (an instance) and `CometServer()`
 * (returns that instance), so CppComet's pages and demos run unchanged.
 */
import { CometConnection, type CometFrame } from './comet.js';

/** What a callback gets, as CppComet's API built it. */
export interface CometEvent {
  /** The message, parsed when it is JSON text. */
  data: unknown;
  server_info: {
    /** The sender of a web_pipe2 message; 0 for the backend or a hidden sender. */
    user_id: number;
    pipe: string;
    event: string;
    history: boolean;
    marker: string | undefined;
  };
}

export type CometCallback = (event: CometEvent) => void;

export interface StartOptions {
  user_id?: number | string;
  user_key?: string;
  dev_id?: number | string;
  /** `host:port` of the server, or a list (CppComet's cluster: the first is used); default: the page's. */
  node?: string | string[];
  nodes?: string[];
  /** Force wss:// (used anyway on an https page). */
  wss?: boolean;
  /** The browser's id shown to track_ pipes; default: one kept in localStorage, as CppComet did. */
  uuid?: string;
}

/** Signals of CppComet's API that are not pipes. */
const ANY_MESSAGE = 'comet_server_msg';
const AUTH_SUCCESS = '__comet_onAuthSuccess';
const AUTH_FAIL = '__comet_onAuthFalill';
/** `pipe.event`: the part before the dot is the pipe the server must send. */
const PIPE_AND_EVENT = /^([^.]+)\.([^.]+)$/;
/** Commands to one socket asked in the same moment go out as one subscription. */
const SUBSCRIPTION_DELAY_MS = 50;
const UUID_ALPHABET = 'qwertyuiopasdfghjklzxcvbnm1234567890QWERTYUIOPASDFGHJKLZXCVBNM_-';

function randomString(length: number, alphabet = UUID_ALPHABET.slice(0, 62)): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) => alphabet[byte % alphabet.length]).join('');
}

/** Message text is JSON more often than not; anything else stays text. */
function parseData(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

export class CometServerApi {
  readonly version = '4.08';
  private options: StartOptions = {};
  private connection: CometConnection | undefined;
  /** Commands given before start(). */
  private readonly beforeStart: string[] = [];
  private readonly signals = new Map<string, Map<number, (event: CometEvent | undefined) => void>>();
  private nextSignalId = 1;
  /** sigIds of subscription(), for unsubscriptionAll(). */
  private subscribed: string[] = [];
  /** Pipes the server sends us. */
  private readonly pipes: string[] = [];
  private subscriptionTimer: ReturnType<typeof setTimeout> | undefined;
  private authorized: boolean | undefined;
  private realUserKey = '';
  private logLevel = 0;
  /** Marks the answers meant for this tab (CppComet's custom_id). */
  private readonly tabUuid = randomString(32);

  /** Connects (again, with these options merged in); `callback` runs once the socket is open. */
  start(options: StartOptions = {}, callback?: () => void): boolean {
    this.options = { ...this.options, ...options };
    this.connection?.close();
    const nodes = this.options.nodes ?? (Array.isArray(this.options.node) ? this.options.node : this.options.node ? [this.options.node] : []);
    const connection = new CometConnection({
      node: nodes[0],
      user_id: Number(this.options.user_id) || 0,
      user_key: this.options.user_key ?? '',
      dev_id: Number(this.options.dev_id) || 0,
      wss: this.options.wss,
      uuid: this.getUUID(),
    });
    let opened = false;
    connection.on('*', (frame) => this.receive(frame));
    connection.on('sys.revoked', () => this.setAuthorized(false));
    connection.onOpen(() => {
      if (this.pipes.length > 0) connection.send(this.subscriptionCommand());
      if (!opened) callback?.();
      opened = true;
    });
    for (const command of this.beforeStart.splice(0)) connection.send(command);
    this.connection = connection;
    connection.connect();
    return true;
  }

  stop(): void {
    this.connection?.close();
    this.connection = undefined;
  }

  restart(options: StartOptions = {}): void {
    this.start(options);
  }

  /**
   * Calls back on messages: `"pipe"` or `"pipe.event"` (the server is asked for the pipe), `"msg"` or
   * `"msg.event"` (personal messages), `"#pipe"` (the answers to our web_pipe_send), `""` or a function alone
   * (everything). Returns the id unsubscription() takes, or false.
   */
  subscription(name: string | CometCallback, callback: CometCallback = () => {}): string | false {
    if (typeof name === 'function') return this.listen(ANY_MESSAGE, name);
    if (name === 'msg' || name.startsWith('msg.') || name.startsWith('answer_to_web_')) return this.listen(name, callback);
    if (name.startsWith('#')) return this.listen(name.replace('#', '_answer_to_'), callback);
    if (name === '') return this.listen(ANY_MESSAGE, callback);
    if (name.length < 2) {
      console.error('Error pipe is to short', name);
      return false;
    }
    const sigId = this.listen(name, callback);
    const pipe = PIPE_AND_EVENT.exec(name)?.[1] ?? name;
    if (!this.pipes.includes(pipe)) {
      this.pipes.push(pipe);
      clearTimeout(this.subscriptionTimer);
      this.subscriptionTimer = setTimeout(() => this.connection?.send(this.subscriptionCommand()), SUBSCRIPTION_DELAY_MS);
    }
    return sigId;
  }

  unsubscription(sigId: string): boolean {
    const [name = '', id = ''] = sigId.split('&&');
    return this.signals.get(name)?.delete(Number(id)) ?? false;
  }

  /** Removes every subscription() callback (the server keeps sending the pipes, as in CppComet). */
  unsubscriptionAll(): boolean {
    for (const sigId of this.subscribed.splice(0)) this.unsubscription(sigId);
    return true;
  }

  /**
   * Sends to the other subscribers of a web_ (or, authenticated, webauth_) pipe: `(pipe, event, message)`,
   * `("pipe.event", message)` or `(pipe, message)`. `@pipe` hides who sent it. The answer comes on `#pipe`.
   */
  web_pipe_send(pipeName: string, event: unknown, message?: unknown): boolean | undefined {
    let pipe = pipeName;
    let eventName = String(event);
    if (message === undefined) {
      message = event;
      eventName = 'undefined';
      const split = /^([^.]*)\.(.*)$/.exec(pipeName);
      if (split) [, pipe = '', eventName = ''] = split;
    }
    if (message === undefined) return false;
    if (!/^@?web(auth)?_/.test(pipe)) {
      console.error(`Invalid channel name \`${pipe}\`. The channel should begin with web_`, pipe);
      return undefined;
    }
    return this.send(`web_pipe2\n${pipe}\n${eventName}\n*\n${JSON.stringify(message)}`);
  }

  /** Asks for the pipe's history; its messages come to the pipe's callbacks with `server_info.history`. */
  get_pipe_log(pipe: string, callback?: CometCallback): boolean {
    if (!pipe) return false;
    if (callback) this.subscription(pipe, callback);
    return this.send(`pipe_log\n${pipe}\n${this.getCustomString()}\n`);
  }

  /** How many sockets a web_ or track_ pipe has: `data.user_in_pipe`. */
  count_users_in_pipe(pipe: string, callback: CometCallback): boolean {
    return this.send(`pipe_count\n${pipe}\n${this.once(callback)}\n`);
  }

  /** Who is subscribed to a track_ pipe: `data` is a list of {user_id, uuid}. */
  getTrackPipeUsers(pipe: string, callback: CometCallback): boolean | undefined {
    if (!pipe.startsWith('track_')) {
      console.error(`Invalid channel name \`${pipe}\`. The channel should begin with track_`, pipe);
      return undefined;
    }
    return this.send(`track_pipe_users\n${pipe}\n${this.once(callback)}`);
  }

  /** The users_data of a user: `data.user_data` ('' if none). */
  getUserData(userId: number | string, callback: CometCallback): boolean | undefined {
    if (!userId || /[^0-9]/.test(String(userId))) {
      console.error(`Invalid user_id=\`${userId}\`. The user_id should is integer`);
      return undefined;
    }
    return this.send(`user_data\n${this.once(callback)}\n${userId}`);
  }

  /** Called each time the server accepts the key (after a change of status). */
  onAuthSuccess(callback: () => void): void {
    this.connectSignal(AUTH_SUCCESS, () => callback());
  }

  /** Called each time the server refuses the key, or revokes it (CppComet's spelling). */
  onAuthFalill(callback: () => void): void {
    this.connectSignal(AUTH_FAIL, () => callback());
  }

  onAuthFail(callback: () => void): void {
    this.onAuthFalill(callback);
  }

  /** true or false once the server has answered; undefined before. */
  isAuthorized(): boolean | undefined {
    return this.authorized;
  }

  getUserId(): number | string | undefined {
    return this.options.user_id;
  }

  getUserKey(): string | undefined {
    return this.options.user_key;
  }

  /** The key the server confirmed (serverInfo), the SIP password of cometVideoApi. */
  getRealUserKey(): string {
    return this.realUserKey;
  }

  getDevId(): number | string {
    return this.options.dev_id ?? 0;
  }

  /** The browser's id: the `uuid` option, or one kept in localStorage. */
  getUUID(): string {
    if (this.options.uuid) return this.options.uuid;
    try {
      this.options.uuid = localStorage.getItem('comet_server_uuid') ?? randomString(32, UUID_ALPHABET);
      localStorage.setItem('comet_server_uuid', this.options.uuid);
    } catch {
      this.options.uuid = randomString(32, UUID_ALPHABET);
    }
    return this.options.uuid;
  }

  getTabUUID(): string {
    return this.tabUuid;
  }

  /** A random 10-character marker. */
  getCustomString(): string {
    return randomString(10);
  }

  /** One connection per page here: every tab is its own master (CppComet shared one socket between tabs). */
  isMaster(): boolean {
    return true;
  }

  UseWebSocket(): boolean {
    return true;
  }

  UseWss(use?: boolean): boolean {
    if (use !== undefined) this.options.wss = use;
    return this.isUseWss();
  }

  isUseWss(): boolean {
    return this.options.wss ?? location.protocol === 'https:';
  }

  setLogLevel(level: number): void {
    this.logLevel = level;
  }

  getLogLevel(): number {
    return this.logLevel;
  }

  private send(command: string): boolean {
    if (this.connection) this.connection.send(command);
    else this.beforeStart.push(command);
    return true;
  }

  private subscriptionCommand(): string {
    return `subscription\n${this.pipes.join('\n')}`;
  }

  /** CppComet's dispatch: to the pipe, to `pipe.event`, to the marker, and to everything. */
  private receive(frame: CometFrame): void {
    if (this.logLevel > 0) console.log('[js-api] msg', frame);
    if (frame.pipe === 'sys' && frame.event === 'serverInfo') {
      this.realUserKey = String(frame.data).replace(' ', '_');
      this.setAuthorized(frame.authorized === true);
      return;
    }
    const event: CometEvent = {
      data: parseData(frame.data),
      server_info: { user_id: frame.user_id ?? 0, pipe: frame.pipe, event: frame.event, history: frame.history === true, marker: frame.marker },
    };
    this.emit(frame.pipe, event);
    this.emit(`${frame.pipe}.${frame.event}`, event);
    if (frame.marker) this.emit(frame.marker, event);
    this.emit(ANY_MESSAGE, event);
  }

  private setAuthorized(value: boolean): void {
    if (this.authorized !== value) this.emit(value ? AUTH_SUCCESS : AUTH_FAIL, undefined);
    this.authorized = value;
  }

  /** A subscription() callback: answers carry a marker, and are for the request that set it. */
  private listen(name: string, callback: CometCallback): string {
    const sigId = this.connectSignal(name, (event) => {
      if (event?.server_info.marker === undefined) callback(event!);
    });
    this.subscribed.push(sigId);
    return sigId;
  }

  /** A callback for the one answer to a request; returns the marker the request must carry. */
  private once(callback: CometCallback): string {
    const marker = this.getCustomString();
    const sigId = this.connectSignal(marker, (event) => {
      this.unsubscription(sigId);
      callback(event!);
    });
    return marker;
  }

  private connectSignal(name: string, listener: (event: CometEvent | undefined) => void): string {
    const id = this.nextSignalId++;
    const listeners = this.signals.get(name) ?? new Map();
    listeners.set(id, listener);
    this.signals.set(name, listeners);
    return `${name}&&${id}`;
  }

  private emit(name: string, event: CometEvent | undefined): void {
    for (const listener of [...(this.signals.get(name)?.values() ?? [])]) listener(event);
  }
}

declare global {
  interface Window {
    cometServerApi: typeof CometServerApi;
    _cometServerApi: typeof CometServerApi;
    cometApi: CometServerApi;
    CometServer: () => CometServerApi;
  }
}
window.cometServerApi = CometServerApi;
window._cometServerApi = CometServerApi;
window.cometApi = new CometServerApi();
window.CometServer = () => window.cometApi;
