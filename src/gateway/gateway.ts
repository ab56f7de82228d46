import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { ConferenceModel } from '../conference/model.js';
import { CLOSE_KEY_REVOKED, type DevId, type Invitation, type LeaveReason, type Member, type UserId } from '../domain.js';
import { reportInternalError } from '../faults.js';
import type { HttpServer } from '../http/server.js';
import { SampledLog } from '../log.js';
import { MAX_MESSAGE_BYTES, unixTime, type ClientInfo, type CometMessage } from '../messaging/frames.js';
import type { Messaging } from '../messaging/messaging.js';
import { LoginThrottle } from '../security/loginThrottle.js';
import { StoreError } from '../storage/storeError.js';
import { clientInfo } from './clientInfo.js';
import { BrowserCommands, slowDown } from './commands.js';
import { SendBudget } from './sendBudget.js';
import { CometSocket, SOCKET_LIMITS, type SlowReaderEvents } from './socket.js';
import { COMET_PATH_PREFIXES, parseCometUrl, type CometUrl } from './url.js';

export interface GatewayOptions {
  model: ConferenceModel;
  /** Users, pipes and queues, shared with CometQL. */
  messaging: Messaging;
  log: Logger;
  /** The `server` field of serverInfo. */
  serverName: string;
  queueTtlMs: number;
  maxSocketsPerUser: number;
  /** Comet sockets one address may hold open, with a key or without; MAX_SOCKETS_PER_ADDRESS unless given. */
  maxSocketsPerAddress?: number;
  /** STUN/TURN servers for the browser's peer connection, sent in serverInfo to authorized users. */
  iceServers: { urls: string; username?: string; credential?: string }[];
  onConnectionCountChange(count: number): void;
  /** A browser's key was wrong, or not looked at because its address or user failed too often lately. */
  onLoginFailure(): void;
  /** Pipe messages dropped for browsers that read too slowly. */
  onMessagesDropped(count: number): void;
}

/** The first frame: whether the key was accepted; for an authorized user also the ICE servers. */
interface ServerInfoMessage extends CometMessage {
  server: string;
  authorized: boolean;
  iceServers?: GatewayOptions['iceServers'];
  /** Seconds until a key is looked at again, when the address or user failed too often. */
  retry_after?: number;
}

const CLOSE_TOO_MANY = 4002;
const CLOSE_BAD_COMMAND = 4003;
const CLOSE_FLOODING = 4004;
const CLOSE_TOO_MANY_FROM_ADDRESS = 4005;
/**
 * Each socket may hold SOCKET_LIMITS of unread frames (over a MiB) and needs no key: one address opening
 * sockets without end could grow memory without end. Past this many, its next sockets are closed (4005).
 */
export const MAX_SOCKETS_PER_ADDRESS = 256;
/** RFC 6455 "internal error": the server could not serve the socket (its store failed). */
const CLOSE_SERVER_ERROR = 1011;

/**
 * The comet WebSocket at /ws/: authenticates browsers with their users_auth key, runs their commands
 * (pipes, web_pipe2 messages, history…) against the messaging service, delivers personal messages
 * (invitations as `sys_sipCall`, queued while the user is offline) and conference events, and closes a
 * user's sockets when their key is revoked.
 */
export class CometGateway {
  private readonly server = new WebSocketServer({
    noServer: true,
    // A command carries at most a message and its header lines.
    maxPayload: MAX_MESSAGE_BYTES + 1024,
    // CppComet answered any subprotocol; we accept the browser's first choice.
    handleProtocols: (protocols) => protocols.values().next().value ?? false,
  });
  private readonly all = new Set<CometSocket>();
  /** Sockets open by address (clientAddress), counted from the upgrade, before the key is looked at. */
  private readonly socketsByAddress = new Map<string, number>();
  private readonly messaging: Messaging;
  private readonly commands: BrowserCommands;
  private readonly logins = new LoginThrottle();
  /** Hostile browsers can repeat these at will: a line per kind and interval, not per socket. */
  private readonly warnings: SampledLog;
  private readonly slowReader: SlowReaderEvents;
  private readonly detach: () => void;

  constructor(
    http: HttpServer,
    private readonly options: GatewayOptions,
  ) {
    this.messaging = options.messaging;
    this.commands = new BrowserCommands(this.messaging, new SendBudget(), options.log);
    const warnings = (this.warnings = new SampledLog(options.log));
    this.slowReader = {
      dropped(socket, count) {
        options.onMessagesDropped(count);
        warnings.warn('slow reader', { userId: socket.userId, ip: socket.info.ip }, 'comet socket reads too slowly; its oldest pipe messages dropped');
      },
      cutOff(socket, reason) {
        const why = reason === 'stalled' ? `read nothing for ${SOCKET_LIMITS.stallMs / 1000} s` : 'does not read its personal messages';
        warnings.warn(`cut off: ${reason}`, { userId: socket.userId, ip: socket.info.ip }, `comet socket ${why}; closed`);
      },
    };
    for (const prefix of COMET_PATH_PREFIXES) http.onUpgrade(prefix, (request, socket, head, url) => this.upgrade(request, socket, head, url));
    this.detach = this.listen(options.model);
  }

  close(): void {
    this.detach();
    for (const socket of this.all) socket.terminate();
    this.server.close();
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const params = parseCometUrl(url.pathname + url.search);
    if (!params) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const info = clientInfo(request);
    this.server.handleUpgrade(request, socket, head, (ws) => {
      if (!this.admit(ws, info.ip)) return;
      // The key or the queue lives in a store that may fail (a database gone away): the socket closes, the server stays.
      this.accept(ws, params, info).catch((error: unknown) => {
        this.failed(error, 'comet connection');
        ws.close(CLOSE_SERVER_ERROR, 'server error');
      });
    });
  }

  /** Counts the socket against its address until it closes; one past the address's limit is closed at once. */
  private admit(ws: WebSocket, address: string): boolean {
    ws.on('error', () => {});
    const max = this.options.maxSocketsPerAddress ?? MAX_SOCKETS_PER_ADDRESS;
    const open = this.socketsByAddress.get(address) ?? 0;
    if (open >= max) {
      this.warnings.warn('too many from address', { ip: address }, `comet socket refused: ${max} already open from its address`);
      ws.close(CLOSE_TOO_MANY_FROM_ADDRESS, 'too many connections from this address');
      return false;
    }
    this.socketsByAddress.set(address, open + 1);
    ws.once('close', () => {
      const left = (this.socketsByAddress.get(address) ?? 1) - 1;
      if (left > 0) this.socketsByAddress.set(address, left);
      else this.socketsByAddress.delete(address);
    });
    return true;
  }

  private async accept(ws: WebSocket, params: CometUrl, info: ClientInfo): Promise<void> {
    ws.on('error', () => {});
    const login = await this.login(params, info.ip);
    if (ws.readyState !== WebSocket.OPEN) return;
    const { authorized } = login;
    const { devId, uuid } = params;
    const userId = authorized ? params.userId : 0;
    if (authorized && this.messaging.presence.clientsOf(devId, userId).size >= this.options.maxSocketsPerUser) {
      ws.close(CLOSE_TOO_MANY, 'too many connections for this user');
      return;
    }
    const socket = new CometSocket(ws, { devId, userId, uuid, info }, this.slowReader);
    this.all.add(socket);
    this.options.onConnectionCountChange(this.all.size);
    ws.on('message', (data, isBinary) => {
      try {
        this.command(socket, data, isBinary);
      } catch (error) {
        this.failed(error, 'comet socket');
        socket.close(CLOSE_SERVER_ERROR, 'server error');
      }
    });
    ws.on('close', () => {
      this.all.delete(socket);
      this.options.onConnectionCountChange(this.all.size);
      this.background(this.messaging.disconnect(socket), 'comet disconnect');
    });
    const serverInfo: ServerInfoMessage = {
      data: authorized ? params.sessionKey : '',
      pipe: 'sys',
      event: 'serverInfo',
      server: this.options.serverName,
      authorized,
      ...(authorized ? { iceServers: this.options.iceServers } : {}),
      ...(login.retryAfterMs > 0 ? { retry_after: Math.ceil(login.retryAfterMs / 1000) } : {}),
      message_send_time: unixTime(),
    };
    socket.reply(serverInfo);
    this.messaging.connect(socket);
    // A message sent while the queue is read reaches the socket live, ahead of older queued ones.
    if (authorized) for (const message of await this.messaging.takeQueued(devId, userId)) socket.reply(message);
  }

  /**
   * Checks a browser's key, unless its address or its user failed too often lately: then the key is not
   * looked at, and the browser is told when to try again. A socket without a key is anonymous, no failure.
   */
  private async login(params: CometUrl, ip: string): Promise<{ authorized: boolean; retryAfterMs: number }> {
    if (params.userId === 0 || params.sessionKey === '') return { authorized: false, retryAfterMs: 0 };
    const user = `${params.devId}:${params.userId}`;
    return this.logins.serialize(ip, user, () => this.judgeKey(params, ip, user));
  }

  private async judgeKey(params: CometUrl, ip: string, user: string): Promise<{ authorized: boolean; retryAfterMs: number }> {
    const retryAfterMs = this.logins.retryAfterMs(ip, user);
    if (retryAfterMs > 0) {
      this.options.onLoginFailure();
      return { authorized: false, retryAfterMs };
    }
    if (await this.options.model.authenticate(params.devId, params.userId, params.sessionKey)) {
      this.logins.succeeded(ip, user);
      return { authorized: true, retryAfterMs: 0 };
    }
    this.logins.failed(ip, user);
    this.options.onLoginFailure();
    this.warnings.warn('wrong key', { ip, devId: params.devId, userId: params.userId }, 'comet login with a wrong key');
    return { authorized: false, retryAfterMs: 0 };
  }

  private command(socket: CometSocket, data: RawData, isBinary: boolean): void {
    // A socket being closed still hands over the frames it had received: they are nobody's business now.
    if (!socket.isOpen()) return;
    switch (socket.flood.check()) {
      case 'close':
        this.warnings.warn('flooding', { userId: socket.userId, ip: socket.info.ip }, 'comet socket flooding; closed');
        socket.close(CLOSE_FLOODING, 'too many messages');
        return;
      case 'warn':
        socket.reply(slowDown('messages are dropped'));
        return;
      case 'drop':
        return;
      case 'accept':
        // CppComet closed the connection on an unknown command; so do we.
        if (!this.commands.run(socket, isBinary ? '' : data.toString())) socket.close(CLOSE_BAD_COMMAND, 'unknown command');
    }
  }

  /** Work nobody awaits (a model event's, a closed socket's): its failure ends here. */
  private background(work: Promise<unknown>, boundary: string): void {
    work.catch((error: unknown) => this.failed(error, boundary));
  }

  /** A store that failed (a database gone away) was logged by the store; anything else is a bug of ours. */
  private failed(error: unknown, boundary: string): void {
    if (error instanceof StoreError) this.options.log.error({ err: error, boundary }, 'comet store failure');
    else reportInternalError(this.options.log, error, boundary);
  }

  /** A personal message on pipe `msg`; `queueTtlMs` null: dropped if the user has no socket open. */
  private toUser(devId: DevId, userId: UserId, event: string, data: unknown, queueTtlMs: number | null = null): void {
    this.background(this.messaging.sendToUser(devId, userId, event, data, queueTtlMs), 'comet delivery');
  }

  /** Tells the other members of a room; the model's event order is the order browsers see. */
  private async toRoom(member: Member, event: string, data: unknown): Promise<void> {
    const members = await this.options.model.findMembers(member.devId, { rooms: [member.room] });
    for (const other of members) if (other.userId !== member.userId) this.toUser(other.devId, other.userId, event, data);
  }

  private listen(model: ConferenceModel): () => void {
    return model.subscribe({
      invited: (invitation: Invitation, payload: unknown) => {
        this.toUser(invitation.devId, invitation.userId, 'sys_sipCall', payload, this.options.queueTtlMs);
      },
      uninvited: (invitation: Invitation) => {
        const inRoom = model.findMembers(invitation.devId, { rooms: [invitation.room], userIds: [invitation.userId] });
        const told = inRoom.then((members) => {
          // A member hears it as the end of the call (memberLeft); a user still ringing hears it here.
          if (members.length > 0) return;
          const data = { conference_name: invitation.room, callKey: invitation.callKey, reason: 'uninvited' };
          this.toUser(invitation.devId, invitation.userId, 'sys_callEnd', data);
        });
        this.background(told, 'comet delivery');
      },
      keyRevoked: (devId: DevId, userId: UserId) => {
        for (const client of this.messaging.presence.clientsOf(devId, userId)) client.close(CLOSE_KEY_REVOKED, 'key revoked');
      },
      memberJoined: (member: Member) => {
        this.background(this.toRoom(member, 'sys_conferenceIn', { conference_name: member.room, user_id: member.userId }), 'comet delivery');
      },
      memberLeft: (member: Member, reason: LeaveReason) => {
        this.background(this.toRoom(member, 'sys_conferenceOut', { conference_name: member.room, user_id: member.userId, reason }), 'comet delivery');
        if (reason !== 'hangup') this.toUser(member.devId, member.userId, 'sys_callEnd', { conference_name: member.room, reason });
      },
    });
  }
}
