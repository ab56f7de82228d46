import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { ConferenceModel } from '../conference/model.js';
import type { DevId, Invitation, LeaveReason, Member, UserId } from '../domain.js';
import type { HttpServer } from '../http/server.js';
import { OfflineQueue } from './queue.js';
import { COMET_PATH_PREFIXES, parseCometUrl, type CometUrl } from './url.js';

/** A frame to the browser, as CppComet's CometServerApi expects it. */
export interface CometMessage {
  data: unknown;
  pipe: string;
  event: string;
  fromQueue?: boolean;
  message_send_time?: number;
}

interface CometSocket {
  ws: WebSocket;
  devId: DevId;
  /** 0 for a connection without a valid key. */
  userId: UserId;
  uuid: string;
}

export interface GatewayOptions {
  model: ConferenceModel;
  log: Logger;
  /** The `server` field of serverInfo. */
  serverName: string;
  queueTtlMs: number;
  maxSocketsPerUser: number;
  /** STUN/TURN servers for the browser's peer connection, sent in serverInfo to authorized users. */
  iceServers: { urls: string; username?: string; credential?: string }[];
  onConnectionCountChange(count: number): void;
}

/** CppComet's browser commands; the messaging issue gives them their behaviour. */
const KNOWN_COMMANDS = new Set(['subscription', 'web_pipe2', 'pipe_log', 'pipe_count', 'user_status', 'track_pipe_users', 'user_data', 'statistics', 'cgi_call', 'CometQL_call']);
/** A browser that does not read its messages is cut off before it costs us memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const MAX_FRAME_BYTES = 65_536;
const CLOSE_KEY_REVOKED = 4001;
const CLOSE_TOO_MANY = 4002;
const CLOSE_BAD_COMMAND = 4003;

const unixTime = (): number => Math.floor(Date.now() / 1000);

/**
 * The comet WebSocket at /ws/: authenticates browsers with their users_auth key, delivers personal
 * messages (invitations as `sys_sipCall`, queued while the user is offline) and conference events, and
 * closes a user's sockets when their key is revoked.
 */
export class CometGateway {
  private readonly server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    // CppComet answered any subprotocol; we accept the browser's first choice.
    handleProtocols: (protocols) => protocols.values().next().value ?? false,
  });
  private readonly byUser = new Map<string, Set<CometSocket>>();
  private readonly all = new Set<CometSocket>();
  private readonly queue: OfflineQueue<CometMessage>;
  private readonly sweeper: NodeJS.Timeout;
  private readonly detach: () => void;

  constructor(
    http: HttpServer,
    private readonly options: GatewayOptions,
  ) {
    this.queue = new OfflineQueue(options.queueTtlMs, 100);
    this.sweeper = setInterval(() => this.queue.sweep(), Math.min(options.queueTtlMs, 60_000));
    this.sweeper.unref();
    for (const prefix of COMET_PATH_PREFIXES) http.onUpgrade(prefix, (request, socket, head, url) => this.upgrade(request, socket, head, url));
    this.detach = this.listen(options.model);
  }

  get connectionCount(): number {
    return this.all.size;
  }

  /** Sends to every socket of a user; queues the message if none is connected and `queue` is set. */
  deliverToUser(devId: DevId, userId: UserId, message: CometMessage, queue: boolean): number {
    const sockets = this.byUser.get(`${devId}:${userId}`);
    let delivered = 0;
    for (const socket of sockets ?? []) if (this.send(socket, message)) delivered++;
    if (delivered === 0 && queue) this.queue.push(devId, userId, message);
    return delivered;
  }

  close(): void {
    this.detach();
    clearInterval(this.sweeper);
    for (const socket of this.all) socket.ws.terminate();
    this.server.close();
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const params = parseCometUrl(url.pathname + url.search);
    if (!params) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => void this.accept(ws, params));
  }

  private async accept(ws: WebSocket, params: CometUrl): Promise<void> {
    const { model } = this.options;
    ws.on('error', () => {});
    const authorized = params.userId > 0 && (await model.authenticate(params.devId, params.userId, params.sessionKey));
    if (ws.readyState !== WebSocket.OPEN) return;
    const socket: CometSocket = { ws, devId: params.devId, userId: authorized ? params.userId : 0, uuid: params.uuid };
    const userKey = `${socket.devId}:${socket.userId}`;
    if (authorized && (this.byUser.get(userKey)?.size ?? 0) >= this.options.maxSocketsPerUser) {
      ws.close(CLOSE_TOO_MANY, 'too many connections for this user');
      return;
    }
    this.all.add(socket);
    if (authorized) {
      const sockets = this.byUser.get(userKey) ?? new Set();
      sockets.add(socket);
      this.byUser.set(userKey, sockets);
    }
    this.options.onConnectionCountChange(this.all.size);
    ws.on('message', (data, isBinary) => this.command(socket, data, isBinary));
    ws.on('close', () => {
      this.all.delete(socket);
      const sockets = this.byUser.get(userKey);
      sockets?.delete(socket);
      if (sockets?.size === 0) this.byUser.delete(userKey);
      this.options.onConnectionCountChange(this.all.size);
    });
    this.send(socket, {
      data: authorized ? params.sessionKey : '',
      pipe: 'sys',
      event: 'serverInfo',
      server: this.options.serverName,
      authorized,
      ...(authorized ? { iceServers: this.options.iceServers } : {}),
      message_send_time: unixTime(),
    } as CometMessage);
    if (authorized) {
      for (const message of this.queue.take(socket.devId, socket.userId)) {
        // As CppComet: a queued message's data arrives as a JSON string, flagged fromQueue.
        this.send(socket, { ...message, data: JSON.stringify(message.data), fromQueue: true });
      }
    }
  }

  private command(socket: CometSocket, data: RawData, isBinary: boolean): void {
    const text = isBinary ? '' : data.toString();
    const name = text.slice(0, text.indexOf('\n') < 0 ? text.length : text.indexOf('\n'));
    if (!KNOWN_COMMANDS.has(name)) {
      // CppComet closed the connection on an unknown command; so do we.
      socket.ws.close(CLOSE_BAD_COMMAND, 'unknown command');
      return;
    }
    this.options.log.debug({ command: name }, 'comet command not handled yet');
  }

  private send(socket: CometSocket, message: CometMessage): boolean {
    if (socket.ws.readyState !== WebSocket.OPEN) return false;
    if (socket.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.options.log.warn({ userId: socket.userId }, 'comet socket not reading; closed');
      socket.ws.terminate();
      return false;
    }
    socket.ws.send(JSON.stringify(message));
    return true;
  }

  private closeUser(devId: DevId, userId: UserId): void {
    for (const socket of this.byUser.get(`${devId}:${userId}`) ?? []) socket.ws.close(CLOSE_KEY_REVOKED, 'key revoked');
  }

  /** Tells the other members of a room; the model's event order is the order browsers see. */
  private async toRoom(member: Member, message: CometMessage): Promise<void> {
    const members = await this.options.model.findMembers(member.devId, { rooms: [member.room] });
    for (const other of members) if (other.userId !== member.userId) this.deliverToUser(other.devId, other.userId, message, false);
  }

  private listen(model: ConferenceModel): () => void {
    const personal = (event: string, data: unknown): CometMessage => ({ data, pipe: 'msg', event, message_send_time: unixTime() });
    const handlers = {
      invited: (invitation: Invitation, payload: unknown) => {
        this.deliverToUser(invitation.devId, invitation.userId, personal('sys_sipCall', payload), true);
      },
      uninvited: (invitation: Invitation) => {
        void model.findMembers(invitation.devId, { rooms: [invitation.room], userIds: [invitation.userId] }).then((inRoom) => {
          // A member hears it as the end of the call (memberLeft); a user still ringing hears it here.
          if (inRoom.length > 0) return;
          const data = { conference_name: invitation.room, callKey: invitation.callKey, reason: 'uninvited' };
          this.deliverToUser(invitation.devId, invitation.userId, personal('sys_callEnd', data), false);
        });
      },
      keyRevoked: (devId: DevId, userId: UserId) => this.closeUser(devId, userId),
      memberJoined: (member: Member) => {
        void this.toRoom(member, personal('sys_conferenceIn', { conference_name: member.room, user_id: member.userId }));
      },
      memberLeft: (member: Member, reason: LeaveReason) => {
        void this.toRoom(member, personal('sys_conferenceOut', { conference_name: member.room, user_id: member.userId, reason }));
        if (reason !== 'hangup') {
          this.deliverToUser(member.devId, member.userId, personal('sys_callEnd', { conference_name: member.room, reason }), false);
        }
      },
    };
    model.on('invited', handlers.invited);
    model.on('uninvited', handlers.uninvited);
    model.on('keyRevoked', handlers.keyRevoked);
    model.on('memberJoined', handlers.memberJoined);
    model.on('memberLeft', handlers.memberLeft);
    return () => {
      model.off('invited', handlers.invited);
      model.off('uninvited', handlers.uninvited);
      model.off('keyRevoked', handlers.keyRevoked);
      model.off('memberJoined', handlers.memberJoined);
      model.off('memberLeft', handlers.memberLeft);
    };
  }
}
