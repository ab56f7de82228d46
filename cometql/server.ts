import { createServer, type Server, type Socket } from 'node:net';
import { CometQLConnection, type ConnectionOptions } from './connection.js';
import { ErrorCode } from './errors.js';
import { ReplyWriter } from './wire.js';
import { SampledLog } from '../src/log.js';
import { listenOn } from '../src/net.js';

export interface CometQLServerOptions extends ConnectionOptions {
  maxConnections: number;
  onConnectionCountChange(count: number): void;
}

/** The MySQL-protocol listener: accepts clients up to the limit and closes them all on shutdown. */
export class CometQLServer {
  private readonly server: Server;
  private readonly connections = new Set<CometQLConnection>();
  private nextConnectionId = 1;
  private readonly warnings: SampledLog;

  constructor(private readonly options: CometQLServerOptions) {
    this.server = createServer((socket) => this.accept(socket));
    this.warnings = new SampledLog(options.log);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.close();
    await closed;
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {}); // a reset before the connection object exists must not crash us
    if (this.connections.size >= this.options.maxConnections) {
      this.warnings.warn('too-many-connections', { limit: this.options.maxConnections }, 'too many CometQL connections');
      socket.end(new ReplyWriter(0).error(ErrorCode.tooManyConnections, '08004', 'Too many connections').toBuffer());
      return;
    }
    const id = this.nextConnectionId;
    this.nextConnectionId = (this.nextConnectionId % 0xffff_fffe) + 1;
    const connection = new CometQLConnection(socket, id, this.options);
    this.connections.add(connection);
    this.options.onConnectionCountChange(this.connections.size);
    socket.once('close', () => {
      this.connections.delete(connection);
      this.options.onConnectionCountChange(this.connections.size);
    });
  }
}
