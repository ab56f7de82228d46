import type { Logger } from 'pino';
import type { PipeName } from '../domain.js';
import { reportInternalError } from '../faults.js';
import { encodeFrame, unixTime, type CometMessage, type Delivery } from '../messaging/frames.js';
import type { Messaging } from '../messaging/messaging.js';
import {
  answerPipe,
  isPrivatePipe,
  isTrackPipe,
  isWebAuthPipe,
  isWebPipe,
  MAX_NAME_LENGTH,
  MIN_PIPE_NAME_LENGTH,
  nameProblem,
  pipeNameProblem,
} from '../messaging/names.js';
import { MAX_PIPES_PER_CLIENT } from '../messaging/pipeHub.js';
import { StoreError } from '../storage/storeError.js';
import type { SendBudget } from './sendBudget.js';
import type { CometSocket } from './socket.js';

/** CppComet's error frame: pipe `sys`, event `error`, `data.error` says what was wrong. */
export function errorFrame(error: string, details: Record<string, unknown> = {}): CometMessage {
  return { data: { error, ...details }, event: 'error', pipe: 'sys', message_send_time: unixTime() };
}

/** What a browser over its rate hears; `429` as in HTTP. */
export const slowDown = (what: string): CometMessage => errorFrame(`Too many messages: slow down; ${what}`, { code: '429' });

/** A refused command: the browser gets an error frame, the socket stays open. */
class Refusal extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** CppComet answered errors about a web_pipe2 message with `number_messages: -1`. */
const NOT_SENT = { number_messages: -1 };
/** Commands CppComet accepted and did nothing with. */
const IGNORED = new Set(['statistics', 'cgi_call', 'CometQL_call']);
/** A pipe_log answer's newest messages up to this much text (CppComet sent at most 99 messages). */
export const MAX_HISTORY_ANSWER_BYTES = 256 * 1024;

type Handler = (socket: CometSocket, args: string) => void | Promise<void>;

/**
 * The browser's commands, CppComet's text frames `<command>\n<arguments>`: subscriptions, web_pipe2
 * messages, history, counts, track_ members, users' data and status. Every answer goes to the asking
 * socket only; a bad argument gets an error frame, never a crash. What a command makes the server send
 * (its answers, its message to a pipe, its track_ notices) is charged to the send budget; a command is
 * refused while the budget is spent.
 */
export class BrowserCommands {
  private readonly handlers: Record<string, Handler> = {
    subscription: (socket, args) => this.subscription(socket, args),
    web_pipe2: (socket, args) => this.webPipe(socket, args),
    pipe_log: (socket, args) => this.pipeLog(socket, args),
    pipe_count: (socket, args) => this.pipeCount(socket, args),
    track_pipe_users: (socket, args) => this.trackPipeUsers(socket, args),
    user_data: (socket, args) => this.userData(socket, args),
    user_status: (socket, args) => this.userStatus(socket, args),
  };

  constructor(
    private readonly messaging: Messaging,
    private readonly budget: SendBudget,
    private readonly log: Logger,
  ) {}

  /** Runs one frame; false if the command is unknown (CppComet closed the connection then). */
  run(socket: CometSocket, text: string): boolean {
    const newline = text.indexOf('\n');
    const name = newline < 0 ? text : text.slice(0, newline);
    if (IGNORED.has(name)) return true;
    const handler = Object.hasOwn(this.handlers, name) ? this.handlers[name] : undefined;
    if (!handler) return false;
    if (!this.budget.allows(socket)) {
      socket.reply(slowDown('this command was refused'));
      return true;
    }
    const args = newline < 0 ? '' : text.slice(newline + 1);
    // Called at once (the async wrapper only turns a throw into a rejection), so commands keep their order.
    (async () => handler(socket, args))().catch((error: unknown) => {
      if (error instanceof Refusal) return socket.reply(errorFrame(error.message, error.details));
      // The store's failure is already logged, and its message is fit to show.
      if (error instanceof StoreError) return socket.reply(errorFrame(error.message, { code: '500' }));
      reportInternalError(this.log, error, 'comet command');
      socket.reply(errorFrame('Internal server error', { code: '500' }));
    });
    return true;
  }

  /** Sends an answer to the asking socket, charged to its budget. */
  private answer(socket: CometSocket, message: CometMessage, delivery: Delivery = 'personal'): void {
    const frame = encodeFrame(message);
    this.budget.spend(socket, frame.length);
    socket.send(frame, delivery);
  }

  /** `subscription\n<pipe>\n<pipe>…`: replaces the socket's pipes (any character outside A-Za-z0-9_- separates). */
  private subscription(socket: CometSocket, args: string): void {
    const names = args.split(/[^A-Za-z0-9_-]+/).filter(Boolean);
    if (names.some((name) => name.length > MAX_NAME_LENGTH)) throw new Refusal('Channel name is too long', { code: '403' });
    // Shorter names can never carry a message; private_ pipes are for authenticated users only.
    const pipes = new Set(names.filter((name) => name.length >= MIN_PIPE_NAME_LENGTH && !(isPrivatePipe(name) && socket.userId === 0)));
    if (pipes.size > MAX_PIPES_PER_CLIENT) {
      throw new Refusal(`Too many channels: at most ${MAX_PIPES_PER_CLIENT} per connection`, { code: '403' });
    }
    this.budget.spend(socket, this.messaging.pipes.subscribe(socket, pipes));
  }

  /**
   * `web_pipe2\n<pipe>\n<event>\n<auth type>\n<message>`: relays the message to the other subscribers of a
   * web_ pipe (webauth_: authenticated senders only; `@pipe` hides the sender) and answers the sender on
   * `_answer_to_<pipe>` with how many sockets got it.
   */
  private async webPipe(socket: CometSocket, args: string): Promise<void> {
    const fields = splitFields(args, 3);
    if (!fields) throw new Refusal('[web_pipe2] Expected web_pipe2\\n<pipe>\\n<event>\\n<auth type>\\n<message>', NOT_SENT);
    const [target, eventField, authType, message] = fields;
    const hidden = target.startsWith('@');
    const pipe = hidden ? target.slice(1) : target;
    if (!isWebPipe(pipe) && !isWebAuthPipe(pipe)) {
      throw new Refusal('[web_pipe2] Invalid channel name. The channel should begin with web_ or webauth_', NOT_SENT);
    }
    if (isWebAuthPipe(pipe) && socket.userId === 0) {
      throw new Refusal('[web_pipe2] Only authorized users can send to webauth_ channels', NOT_SENT);
    }
    checkPipe(pipe, NOT_SENT);
    const event = eventField || 'undefined'; // CppComet's name for a missing event
    const eventProblem = nameProblem(event, 1);
    if (eventProblem === 'too-long') throw new Refusal('Invalid event name length', NOT_SENT);
    if (eventProblem) throw new Refusal('The event name can only contain characters A-Za-z0-9_-', NOT_SENT);
    if (authType.length !== 1) throw new Refusal('Invalid value auth_type', NOT_SENT);

    const sender = { client: socket, userId: hidden ? 0 : socket.userId };
    // What a sender costs its subscribers is the message, however many they are.
    this.budget.spend(socket, Buffer.byteLength(message));
    const delivered = await this.messaging.publish(socket.devId, pipe, event, message, sender);
    this.answer(socket, { data: { number_messages: delivered, message }, event: 'answer', pipe: answerPipe(pipe), message_send_time: unixTime() });
  }

  /**
   * `pipe_log\n<pipe>\n<marker>`: the pipe's history (its newest messages up to MAX_HISTORY_ANSWER_BYTES),
   * one frame per message with `history: true`. No marker in them: CometServerApi hands marked frames to no
   * pipe subscriber but the one whose id it is. They are pipe messages: a slow reader loses the oldest.
   */
  private async pipeLog(socket: CometSocket, args: string): Promise<void> {
    const { pipe } = pipeAndMarker(args, NOT_SENT);
    if (isPrivatePipe(pipe) && socket.userId === 0) throw new Refusal('[pipe_log] private_ channels are for authorized users only', NOT_SENT);
    const history = await this.messaging.store.findPipeMessages(socket.devId, [pipe]);
    for (const message of newestWithin(history, MAX_HISTORY_ANSWER_BYTES)) {
      const frame = {
        data: message.message,
        event: message.event,
        pipe,
        user_id: message.userId,
        history: true,
        fromQueue: true,
        message_send_time: unixTime(message.time),
      };
      this.answer(socket, frame, 'pipe');
    }
  }

  /** `pipe_count\n<pipe>\n<marker>`: how many sockets a web_ or track_ pipe has. */
  private pipeCount(socket: CometSocket, args: string): void {
    const { pipe, marker } = pipeAndMarker(args, NOT_SENT);
    if (!isWebPipe(pipe) && !isTrackPipe(pipe)) {
      throw new Refusal('[pipe_count] Invalid channel name. The channel should start with web_ or track_', NOT_SENT);
    }
    const users = this.messaging.pipes.subscribers(socket.devId, pipe).size;
    this.answer(socket, { data: { user_in_pipe: users }, event: 'user_in_pipe', marker, pipe: '_answer_pipe_count', message_send_time: unixTime() });
  }

  /** `track_pipe_users\n<pipe>\n<marker>`: who is subscribed to a track_ pipe, as {user_id, uuid}. */
  private trackPipeUsers(socket: CometSocket, args: string): void {
    const { pipe, marker } = pipeAndMarker(args, { user_id: -1 });
    if (!isTrackPipe(pipe)) {
      throw new Refusal('[track_pipe_users] Invalid channel name. The channel should start with track_', { user_id: -1 });
    }
    const users = [...this.messaging.pipes.subscribers(socket.devId, pipe)].map((client) => ({ user_id: client.userId, uuid: client.uuid }));
    this.answer(socket, { data: users, event: 'answer', marker, pipe: '_answer', message_send_time: unixTime() });
  }

  /** `user_data\n<marker>\n<user_id>`: the user's users_data text ('' if none). */
  private async userData(socket: CometSocket, args: string): Promise<void> {
    const [marker = '', id = ''] = args.split('\n');
    checkMarker(marker);
    const userId = parseUserId(id, { user_id: -1, user_data: '' });
    const data = (await this.messaging.store.userData.find(socket.devId, [userId])).get(userId) ?? '';
    this.answer(socket, { data: { user_data: data, user_id: userId }, event: 'answer', marker, pipe: '_answer', message_send_time: unixTime() });
  }

  /**
   * `user_status\n<user_id>`: when the user was last online. `time` is their users_time (0 online, unix
   * time, -1 never seen); `last_online_time` (and `data`, CppComet's name) is seconds ago (0 online, -1 never).
   */
  private async userStatus(socket: CometSocket, args: string): Promise<void> {
    const userId = parseUserId(args.split('\n')[0] ?? '', {});
    const time = (await this.messaging.usersTime(socket.devId, [userId])).get(userId)!;
    const secondsAgo = time <= 0 ? time : Math.max(0, unixTime() - time);
    this.answer(socket, {
      data: { data: secondsAgo, last_online_time: secondsAgo, time },
      event: `user_status_${userId}`,
      pipe: '_answer_user_status',
      message_send_time: unixTime(),
    });
  }
}

/** The newest messages whose texts add up to at most `maxBytes`, oldest first. */
function newestWithin<T extends { message: string }>(messages: readonly T[], maxBytes: number): readonly T[] {
  let first = messages.length;
  for (let bytes = 0; first > 0; first--) {
    bytes += Buffer.byteLength(messages[first - 1]!.message);
    if (bytes > maxBytes) break;
  }
  return messages.slice(first);
}

/** The first `count` lines and the rest (which may hold newlines), or undefined if there are fewer lines. */
function splitFields(text: string, count: number): [string, string, string, string] | undefined {
  const fields: string[] = [];
  let rest = text;
  for (let i = 0; i < count; i++) {
    const newline = rest.indexOf('\n');
    if (newline < 0) return undefined;
    fields.push(rest.slice(0, newline));
    rest = rest.slice(newline + 1);
  }
  return [fields[0]!, fields[1]!, fields[2]!, rest];
}

function checkPipe(pipe: PipeName, details: Record<string, unknown>): void {
  switch (pipeNameProblem(pipe)) {
    case 'too-long':
      throw new Refusal('Invalid pipe name length', details);
    case 'too-short':
      throw new Refusal('Invalid pipe name', details);
    case 'characters':
      throw new Refusal('The channel name can only contain characters A-Za-z0-9_-', details);
  }
}

function checkMarker(marker: string): void {
  if (marker !== '' && nameProblem(marker, 1)) throw new Refusal('Invalid marker value.');
}

/** `<pipe>\n<marker>`, both checked: the arguments of the pipe queries. */
function pipeAndMarker(args: string, details: Record<string, unknown>): { pipe: PipeName; marker: string } {
  const [pipe = '', marker = ''] = args.split('\n');
  checkPipe(pipe, details);
  checkMarker(marker);
  return { pipe, marker };
}

function parseUserId(text: string, details: Record<string, unknown>): number {
  const userId = /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(userId)) throw new Refusal('Invalid user id', details);
  return userId;
}
