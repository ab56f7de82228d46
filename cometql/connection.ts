import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ConferenceError } from '../src/conference/model.js';
import { reportInternalError } from '../src/faults.js';
import { StoreError } from '../src/storage/storeError.js';
import type { Authenticator } from './authentication.js';
import { CometQLError, ErrorCode } from './errors.js';
import { useDatabase, type Executor, type Result, type Session } from './executor.js';
import { AUTH_PLUGIN, authSwitchRequest, greeting, isSslRequest, newScramble, parseHandshakeResponse, type HandshakeResponse } from './handshake.js';
import type { QueryLimits } from './limits.js';
import { pace } from './pace.js';
import { parseStatement, splitQuery } from './parser.js';
import type { Statement } from './statements.js';
import { TABLES } from './tables/index.js';
import { Capability, PacketReader, ReplyWriter, ServerStatus, type OversizedPacket, type Packet } from './wire.js';

const Command = {
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  STATISTICS: 0x09,
  PING: 0x0e,
  CHANGE_USER: 0x11,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  RESET_CONNECTION: 0x1f,
} as const;

/** Commands the protocol says are never answered. */
const SILENT_COMMANDS = new Set<number>([Command.STMT_SEND_LONG_DATA, Command.STMT_CLOSE]);

const PREPARED_STATEMENTS_UNSUPPORTED = new CometQLError(
  ErrorCode.notImplemented,
  'Prepared statements are not supported by CometQL: send plain queries (mysqli_query, PDO with emulated prepares, mysql2 query())',
);

/** A handshake response is a few hundred bytes; anything bigger before login is not a MySQL client. */
const MAX_HANDSHAKE_PAYLOAD = 16 * 1024;
/** Stop reading a client that pipelines faster than we answer. */
const MAX_BUFFERED_INPUT = 4 * 1024 * 1024;
/** Rows of a result encoded and sent at a time. */
const ROWS_PER_WRITE = 1000;

export interface CometQLMetrics {
  statement(table: string, kind: string): void;
  error(code: number): void;
}

export interface ConnectionOptions {
  executor: Executor;
  authenticator: Authenticator;
  serverVersion: string;
  maxQuerySize: number;
  limits: QueryLimits;
  devIndexSize: number;
  handshakeTimeoutMs: number;
  metrics: CometQLMetrics;
  log: Logger;
  /** COM_STATISTICS's line for root, every tenant's figures (a tenant gets the uptime only). */
  statistics(): string;
}

type State = 'handshake' | 'auth-switch' | 'command' | 'closed';

/** One CometQL client: handshake, authentication, then commands answered strictly in order. */
export class CometQLConnection {
  private state: State = 'handshake';
  private scramble = newScramble();
  private readonly reader = new PacketReader(MAX_HANDSHAKE_PAYLOAD);
  private readonly session: Session;
  private pendingLogin: HandshakeResponse | undefined;
  private capabilities = 0;
  private busy = false;
  private readonly handshakeTimer: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(
    private readonly socket: Socket,
    connectionId: number,
    private readonly options: ConnectionOptions,
  ) {
    this.log = options.log.child({ connection: connectionId });
    this.session = { connectionId, user: '', devId: 0, root: false, database: null, foundRows: false, lastInsertId: 0 };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      if (this.reader.buffered > MAX_BUFFERED_INPUT) socket.pause();
      void this.drain();
    });
    socket.on('error', (error) => this.log.debug({ err: error.message }, 'socket error'));
    socket.on('close', () => this.close());
    this.handshakeTimer = setTimeout(() => {
      this.log.debug('login timed out');
      socket.destroy();
    }, options.handshakeTimeoutMs);
    this.write(new ReplyWriter(0).packet(greeting(connectionId, options.serverVersion, this.scramble)));
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    this.socket.destroy();
  }

  /** Handles buffered packets one at a time, so replies keep the order of requests. */
  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      let packet: Packet | OversizedPacket | undefined;
      while (this.state !== 'closed' && (packet = this.reader.next())) {
        if ('oversized' in packet) {
          const error = new CometQLError(ErrorCode.overflow, 'Data is too long');
          // Skipped whole, so a logged-in client stays in sync; before login it is no MySQL client.
          if (this.state === 'command') this.replyError(packet.sequence + 1, error);
          else this.refuse(packet.sequence + 1, error);
        } else {
          await this.handle(packet);
        }
        await this.drained();
      }
      if (this.socket.isPaused() && this.reader.buffered <= MAX_BUFFERED_INPUT) this.socket.resume();
    } catch (error) {
      reportInternalError(this.log, error, 'cometql-connection');
      this.close();
    } finally {
      this.busy = false;
    }
  }

  private async handle(packet: Packet): Promise<void> {
    switch (this.state) {
      case 'handshake':
        return this.login(packet);
      case 'auth-switch':
        return this.finishLogin(packet.sequence + 1, packet.payload);
      case 'command':
        return this.command(packet);
    }
  }

  private login(packet: Packet): void | Promise<void> {
    const reply = packet.sequence + 1;
    if (isSslRequest(packet.payload)) {
      return this.refuse(reply, new CometQLError(ErrorCode.auth, 'TLS is not supported: connect without SSL'));
    }
    let response: HandshakeResponse;
    try {
      response = parseHandshakeResponse(packet.payload);
    } catch {
      return this.refuse(reply, new CometQLError(ErrorCode.auth, 'Authentication failure'));
    }
    this.capabilities = response.capabilities;
    this.pendingLogin = response;
    if (response.plugin && response.plugin !== AUTH_PLUGIN) {
      // The client chose another plugin (MySQL 8 clients default to caching_sha2): ask for ours.
      this.scramble = newScramble();
      this.state = 'auth-switch';
      this.write(new ReplyWriter(reply).packet(authSwitchRequest(this.scramble)));
      return;
    }
    return this.finishLogin(reply, response.authResponse);
  }

  private async finishLogin(reply: number, authResponse: Buffer): Promise<void> {
    const login = this.pendingLogin!;
    try {
      const address = this.socket.remoteAddress ?? 'unknown';
      const { devId, root } = await this.options.authenticator.authenticate(login.user, address, this.scramble, authResponse);
      Object.assign(this.session, { user: login.user, devId, root, foundRows: (login.capabilities & Capability.FOUND_ROWS) !== 0 });
      if (login.database) useDatabase(this.session, login.database, this.options.devIndexSize);
    } catch (error) {
      return this.refuse(reply, this.asCometQLError(error));
    }
    if (this.state === 'closed') return; // timed out or hung up while the store answered
    clearTimeout(this.handshakeTimer);
    this.pendingLogin = undefined;
    this.state = 'command';
    this.reader.maxPayload = this.options.maxQuerySize + 1;
    this.reader.resync = true;
    this.log.debug({ devId: this.session.devId, root: this.session.root }, 'logged in');
    this.write(new ReplyWriter(reply).ok(0, 0, ServerStatus.AUTOCOMMIT));
  }

  private refuse(reply: number, error: CometQLError): void {
    this.replyError(reply, error);
    this.socket.end();
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
  }

  private async command(packet: Packet): Promise<void> {
    const reply = packet.sequence + 1;
    const command = packet.payload[0];
    const ok = (): void => this.write(new ReplyWriter(reply).ok(0, 0, ServerStatus.AUTOCOMMIT));
    switch (command) {
      case Command.QUERY:
        return this.query(reply, packet.payload.toString('utf8', 1));
      case Command.PING:
      case Command.RESET_CONNECTION:
        return ok();
      case Command.QUIT:
        this.socket.end();
        this.state = 'closed';
        return;
      case Command.INIT_DB:
        try {
          useDatabase(this.session, packet.payload.toString('utf8', 1), this.options.devIndexSize);
          return ok();
        } catch (error) {
          return this.replyError(reply, error as CometQLError);
        }
      case Command.FIELD_LIST:
        return this.write(new ReplyWriter(reply).eof(ServerStatus.AUTOCOMMIT));
      case Command.STATISTICS: {
        // Threads and Questions count every tenant's connections and queries: root's only, as in SHOW STATUS.
        const line = this.session.root ? this.options.statistics() : `Uptime: ${this.options.executor.uptime()}`;
        return this.write(new ReplyWriter(reply).packet(Buffer.from(line, 'utf8')));
      }
      case Command.SET_OPTION: {
        // 0 turns multi-statements on, 1 off; the reply is an EOF packet.
        const multi = packet.payload.length >= 3 && packet.payload.readUInt16LE(1) === 0;
        this.capabilities = multi ? this.capabilities | Capability.MULTI_STATEMENTS : this.capabilities & ~Capability.MULTI_STATEMENTS;
        return this.write(new ReplyWriter(reply).eof(ServerStatus.AUTOCOMMIT));
      }
      case Command.STMT_PREPARE:
      case Command.STMT_EXECUTE:
      case Command.STMT_RESET:
        return this.replyError(reply, PREPARED_STATEMENTS_UNSUPPORTED);
      default:
        if (command !== undefined && SILENT_COMMANDS.has(command)) return;
        return this.replyError(reply, new CometQLError(ErrorCode.notImplemented, `Command 0x${(command ?? 0).toString(16)} is not supported`));
    }
  }

  private async query(reply: number, sql: string): Promise<void> {
    const statements: Statement[] = [];
    try {
      const split = splitQuery(sql, this.options.limits);
      if (split.length === 0) throw new CometQLError(ErrorCode.empty, 'Data is too short');
      // Refused before any parse: a client that never asked for several statements costs no more than one.
      if (split.length > 1 && !(this.capabilities & Capability.MULTI_STATEMENTS)) {
        throw CometQLError.syntax('several statements need CLIENT_MULTI_STATEMENTS');
      }
      // All are parsed before the first runs (a syntax error runs none), yielding between them as execution does:
      // a parse costs up to a few ms, and 1000 of distinct shapes held the event loop for a second.
      for (const tokens of split) {
        await pace();
        statements.push(parseStatement(sql, tokens, this.options.limits));
      }
    } catch (error) {
      this.options.metrics.statement('', 'invalid');
      return this.replyError(reply, this.asCometQLError(error));
    }
    const writer = new ReplyWriter(reply);
    for (const [index, statement] of statements.entries()) {
      await pace();
      // Only real table names become metric labels: a client must not be able to mint label values.
      const named = 'table' in statement ? statement.table.toLowerCase() : '';
      const table = named === '' || TABLES.has(named) ? named : 'unknown';
      this.options.metrics.statement(table, statement.kind);
      const status = ServerStatus.AUTOCOMMIT | (index < statements.length - 1 ? ServerStatus.MORE_RESULTS_EXISTS : 0);
      try {
        await this.send(writer, await this.options.executor.execute(this.session, statement), status);
      } catch (error) {
        const failure = this.asCometQLError(error);
        this.options.metrics.error(failure.code);
        writer.error(failure.code, failure.sqlState, failure.message);
        break;
      }
    }
    this.write(writer);
  }

  private asCometQLError(error: unknown): CometQLError {
    if (error instanceof CometQLError) {
      if (error.detail) this.log.debug({ detail: error.detail }, error.message);
      return error;
    }
    if (error instanceof ConferenceError) return CometQLError.invalid(error.message);
    // The store has logged its outage; the client hears what failed, and the connection goes on.
    if (error instanceof StoreError) return new CometQLError(ErrorCode.internal, error.message);
    reportInternalError(this.log, error, 'cometql-query');
    return new CometQLError(ErrorCode.internal, 'internal server error');
  }

  /**
   * Writes a result in parts, each sent before the next is encoded, waiting while the client is slow to read:
   * a query of many or large results (up to 1000 statements of 10,000 rows) never sits whole in memory.
   */
  private async send(writer: ReplyWriter, result: Result, status: number): Promise<void> {
    if (result.kind === 'ok') {
      writer.ok(result.affectedRows, result.insertId, status);
      return;
    }
    writer.resultSetHead(result.columns, status, result.table);
    for (let start = 0; start < result.rows.length; start += ROWS_PER_WRITE) {
      writer.rows(result.rows.slice(start, start + ROWS_PER_WRITE));
      this.write(writer);
      await this.drained();
      await pace();
    }
    writer.eof(status);
  }

  /** Resolves once the socket takes more, or is gone: a client slow to read holds back its own replies, nothing else. */
  private async drained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done).off('close', done);
        resolve();
      };
      this.socket.on('drain', done).on('close', done);
    });
  }

  private replyError(reply: number, error: CometQLError): void {
    this.options.metrics.error(error.code);
    this.write(new ReplyWriter(reply).error(error.code, error.sqlState, error.message));
  }

  private write(writer: ReplyWriter): void {
    if (this.state !== 'closed' && this.socket.writable) this.socket.write(writer.take());
  }
}
