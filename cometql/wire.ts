/**
 * MySQL client/server protocol framing and the server's packets (protocol 4.1, classic EOF packets).
 * Our own code rather than mysql2's server API: we need bounded buffering of hostile input, exact
 * sequence ids, real SQLSTATEs and an answer to every command, which that API does not give.
 */

export const MAX_PACKET_PAYLOAD = 0xff_ff_ff;

export const Capability = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  NO_SCHEMA: 0x10,
  IGNORE_SPACE: 0x100,
  PROTOCOL_41: 0x200,
  INTERACTIVE: 0x400,
  SSL: 0x800,
  IGNORE_SIGPIPE: 0x1000,
  TRANSACTIONS: 0x2000,
  RESERVED: 0x4000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x1_0000,
  MULTI_RESULTS: 0x2_0000,
  PS_MULTI_RESULTS: 0x4_0000,
  PLUGIN_AUTH: 0x8_0000,
  CONNECT_ATTRS: 0x10_0000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x20_0000,
} as const;

export const ServerStatus = {
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
} as const;

export interface Packet {
  sequence: number;
  payload: Buffer;
}

/** A packet whose payload exceeded the limit: its bytes were skipped, the connection stays in sync. */
export interface OversizedPacket {
  sequence: number;
  oversized: true;
}

/**
 * Cuts a byte stream into packets, joining 16 MiB continuation packets. Memory stays bounded: a payload
 * over `maxPayload` is skipped as it arrives and reported once complete.
 */
export class PacketReader {
  private pending: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private partsSize = 0;
  private skipRemaining = 0;
  private skipContinues = false;
  private skipping = false;
  private skipSequence = 0;

  /**
   * `maxPayload` is raised after login, when queries may be large. With `resync` an oversized packet is
   * skipped and reported once it has passed, keeping the stream in sync; without, it is reported at once.
   */
  constructor(
    public maxPayload: number,
    public resync = false,
  ) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
  }

  get buffered(): number {
    return this.pending.length + this.partsSize;
  }

  next(): Packet | OversizedPacket | undefined {
    for (;;) {
      if (this.skipRemaining > 0) {
        const dropped = Math.min(this.skipRemaining, this.pending.length);
        this.pending = this.pending.subarray(dropped);
        this.skipRemaining -= dropped;
        if (this.skipRemaining > 0) return undefined;
      }
      if (this.skipping && !this.skipContinues) {
        this.skipping = false;
        return { sequence: this.skipSequence, oversized: true };
      }
      if (this.pending.length < 4) return undefined;
      const length = this.pending.readUIntLE(0, 3);
      const sequence = this.pending[3]!;
      if (this.skipping || this.partsSize + length > this.maxPayload) {
        if (!this.resync) return { sequence, oversized: true };
        if (!this.skipping) {
          this.skipping = true;
          this.parts = [];
          this.partsSize = 0;
        }
        this.skipSequence = sequence;
        this.skipContinues = length === MAX_PACKET_PAYLOAD;
        this.skipRemaining = length;
        this.pending = this.pending.subarray(4);
        continue;
      }
      if (this.pending.length < 4 + length) return undefined;
      const part = this.pending.subarray(4, 4 + length);
      this.pending = this.pending.subarray(4 + length);
      if (length === MAX_PACKET_PAYLOAD) {
        this.parts.push(part);
        this.partsSize += length;
        continue;
      }
      const payload = this.parts.length === 0 ? part : Buffer.concat([...this.parts, part]);
      this.parts = [];
      this.partsSize = 0;
      return { sequence, payload };
    }
  }
}

export function lengthEncodedInteger(value: number): Buffer {
  const out = Buffer.alloc(lengthEncodedIntegerSize(value));
  writeLengthEncodedInteger(out, 0, value);
  return out;
}

/** Writes `value` length-encoded at `offset`; returns the offset after it. */
function writeLengthEncodedInteger(out: Buffer, offset: number, value: number): number {
  if (value < 251) {
    out[offset] = value;
    return offset + 1;
  }
  if (value < 0x1_00_00) {
    out[offset] = 0xfc;
    return out.writeUInt16LE(value, offset + 1);
  }
  if (value < 0x1_00_00_00) {
    out[offset] = 0xfd;
    return out.writeUIntLE(value, offset + 1, 3);
  }
  out[offset] = 0xfe;
  return out.writeBigUInt64LE(BigInt(value), offset + 1);
}

function lengthEncodedIntegerSize(value: number): number {
  return value < 251 ? 1 : value < 0x1_00_00 ? 3 : value < 0x1_00_00_00 ? 4 : 9;
}

export function lengthEncodedString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([lengthEncodedInteger(bytes.length), bytes]);
}

const NULL_VALUE = Buffer.from([0xfb]);
/** utf8mb4: with utf8 (33, three bytes) mysql2 decodes the text as CESU-8 and mangles emoji. */
export const UTF8MB4_GENERAL_CI = 45;
/** The one database CometQL has (CppComet's name); columns of its tables say they are in it. */
export const DATABASE_NAME = 'CometQL_v1';
const MYSQL_TYPE_VAR_STRING = 0xfd;

/** Reads what the client sent: NUL-terminated and length-prefixed fields, with bounds checks. */
export class PayloadCursor {
  offset = 0;
  constructor(readonly payload: Buffer) {}

  get remaining(): number {
    return this.payload.length - this.offset;
  }

  bytes(count: number): Buffer {
    if (count > this.remaining) throw new RangeError('packet too short');
    const out = this.payload.subarray(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }

  uint8(): number {
    return this.bytes(1)[0]!;
  }

  uint32(): number {
    return this.bytes(4).readUInt32LE(0);
  }

  nulTerminated(): Buffer {
    const end = this.payload.indexOf(0, this.offset);
    if (end < 0) throw new RangeError('unterminated string');
    const out = this.payload.subarray(this.offset, end);
    this.offset = end + 1;
    return out;
  }

  lengthEncodedInteger(): number {
    const first = this.uint8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.bytes(2).readUInt16LE(0);
    if (first === 0xfd) return this.bytes(3).readUIntLE(0, 3);
    if (first === 0xfe) return Number(this.bytes(8).readBigUInt64LE(0));
    throw new RangeError('bad length-encoded integer');
  }
}

/** Builds one reply: a run of packets whose sequence ids continue from the client's packet. */
export class ReplyWriter {
  private readonly chunks: Buffer[] = [];

  constructor(private sequence: number) {}

  packet(payload: Buffer): this {
    let offset = 0;
    // A payload of exactly 16 MiB - 1 or more is split, and an exact multiple ends with an empty packet.
    for (;;) {
      const length = Math.min(MAX_PACKET_PAYLOAD, payload.length - offset);
      const header = Buffer.alloc(4);
      header.writeUIntLE(length, 0, 3);
      header[3] = this.sequence;
      this.sequence = (this.sequence + 1) & 0xff;
      this.chunks.push(header, payload.subarray(offset, offset + length));
      offset += length;
      if (length < MAX_PACKET_PAYLOAD) return this;
    }
  }

  ok(affectedRows: number, insertId: number, status: number): this {
    const tail = Buffer.alloc(4);
    tail.writeUInt16LE(status, 0);
    return this.packet(Buffer.concat([Buffer.from([0x00]), lengthEncodedInteger(affectedRows), lengthEncodedInteger(insertId), tail]));
  }

  error(code: number, sqlState: string, message: string): this {
    const head = Buffer.alloc(3);
    head[0] = 0xff;
    head.writeUInt16LE(code, 1);
    return this.packet(Buffer.concat([head, Buffer.from(`#${sqlState.padEnd(5, '0').slice(0, 5)}`, 'latin1'), Buffer.from(message, 'utf8')]));
  }

  eof(status: number): this {
    const payload = Buffer.alloc(5);
    payload[0] = 0xfe;
    payload.writeUInt16LE(status, 3);
    return this.packet(payload);
  }

  /**
   * The start of a result set: its column definitions and their EOF; rows and an EOF follow. Every column is a
   * utf8 VAR_STRING, as CppComet sent them.
   */
  resultSetHead(columns: readonly string[], status: number, table = ''): this {
    this.packet(lengthEncodedInteger(columns.length));
    for (const name of columns) this.packet(columnDefinition(name, table));
    return this.eof(status);
  }

  rows(rows: readonly (readonly (string | null)[])[]): this {
    for (const row of rows) this.row(row);
    return this;
  }

  /** One row packet, written straight into a buffer of the right size: rows are the bulk of every reply. */
  private row(values: readonly (string | null)[]): void {
    const lengths = values.map((value) => (value === null ? -1 : Buffer.byteLength(value, 'utf8')));
    const size = lengths.reduce((sum, length) => sum + (length < 0 ? 1 : lengthEncodedIntegerSize(length) + length), 0);
    if (size >= MAX_PACKET_PAYLOAD) {
      this.packet(Buffer.concat(values.map((value) => (value === null ? NULL_VALUE : lengthEncodedString(value)))));
      return;
    }
    const out = Buffer.allocUnsafe(4 + size);
    out.writeUIntLE(size, 0, 3);
    out[3] = this.sequence;
    this.sequence = (this.sequence + 1) & 0xff;
    let offset = 4;
    values.forEach((value, i) => {
      const length = lengths[i]!;
      if (value === null) {
        out[offset++] = 0xfb;
        return;
      }
      offset = writeLengthEncodedInteger(out, offset, length);
      offset += out.write(value, offset, 'utf8');
    });
    this.chunks.push(out);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The packets written so far, handed on and forgotten (the sequence goes on): a long reply goes out in parts. */
  take(): Buffer {
    const out = this.toBuffer();
    this.chunks.length = 0;
    return out;
  }
}

/** Column definitions repeat with every reply; labels can be client-chosen, so the cache is bounded. */
const columnDefinitions = new Map<string, Buffer>();

function columnDefinition(name: string, table: string): Buffer {
  const key = `${table}\0${name}`;
  let definition = columnDefinitions.get(key);
  if (!definition) {
    if (columnDefinitions.size >= 1000) columnDefinitions.clear();
    definition = encodeColumnDefinition(name, table);
    columnDefinitions.set(key, definition);
  }
  return definition;
}

function encodeColumnDefinition(name: string, table: string): Buffer {
  const fixed = Buffer.alloc(13);
  fixed[0] = 0x0c;
  fixed.writeUInt16LE(UTF8MB4_GENERAL_CI, 1);
  fixed.writeUInt32LE(255 * 3, 3);
  fixed[7] = MYSQL_TYPE_VAR_STRING;
  fixed.writeUInt16LE(0, 8);
  fixed[10] = 0;
  return Buffer.concat([
    lengthEncodedString('def'),
    lengthEncodedString(table ? DATABASE_NAME : ''),
    lengthEncodedString(table),
    lengthEncodedString(table),
    lengthEncodedString(name),
    lengthEncodedString(name),
    fixed,
  ]);
}
