import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { Capability, PayloadCursor, ServerStatus, UTF8MB4_GENERAL_CI } from './wire.js';

export const AUTH_PLUGIN = 'mysql_native_password';
export const SCRAMBLE_LENGTH = 20;

/**
 * What we advertise. No SSL (we have no TLS; CppComet advertised it and broke SSL-preferring clients),
 * no COMPRESS, no CONNECT_ATTRS and no DEPRECATE_EOF, so every client speaks the same plain dialect.
 */
export const SERVER_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.FOUND_ROWS |
  Capability.LONG_FLAG |
  Capability.CONNECT_WITH_DB |
  Capability.NO_SCHEMA |
  Capability.IGNORE_SPACE |
  Capability.PROTOCOL_41 |
  Capability.INTERACTIVE |
  Capability.IGNORE_SIGPIPE |
  Capability.TRANSACTIONS |
  Capability.RESERVED |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_STATEMENTS |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.PLUGIN_AUTH;

const SCRAMBLE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 20 printable bytes, fresh per connection and per auth switch. */
export function newScramble(): Buffer {
  return Buffer.from(Array.from({ length: SCRAMBLE_LENGTH }, () => SCRAMBLE_ALPHABET.charCodeAt(randomInt(SCRAMBLE_ALPHABET.length))));
}

/** HandshakeV10, the first packet of every connection. */
export function greeting(connectionId: number, serverVersion: string, scramble: Buffer): Buffer {
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let offset = 0;
  offset = fixed.writeUInt32LE(connectionId, offset);
  offset += scramble.copy(fixed, offset, 0, 8);
  fixed[offset++] = 0;
  offset = fixed.writeUInt16LE(SERVER_CAPABILITIES & 0xffff, offset);
  fixed[offset++] = UTF8MB4_GENERAL_CI;
  offset = fixed.writeUInt16LE(ServerStatus.AUTOCOMMIT, offset);
  offset = fixed.writeUInt16LE(SERVER_CAPABILITIES >>> 16, offset);
  fixed[offset++] = SCRAMBLE_LENGTH + 1;
  return Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from(`${serverVersion}\0`, 'utf8'),
    fixed,
    scramble.subarray(8),
    Buffer.from(`\0${AUTH_PLUGIN}\0`, 'latin1'),
  ]);
}

export interface HandshakeResponse {
  capabilities: number;
  user: string;
  authResponse: Buffer;
  database: string | null;
  plugin: string | null;
}

/** An SSLRequest is a bare 32-byte response with the SSL flag: a client that insists on TLS. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === 32 && (payload.readUInt32LE(0) & Capability.SSL) !== 0;
}

/** HandshakeResponse41; throws RangeError on a malformed packet. */
export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const cursor = new PayloadCursor(payload);
  const capabilities = cursor.uint32();
  if ((capabilities & Capability.PROTOCOL_41) === 0) throw new RangeError('client does not speak protocol 4.1');
  cursor.bytes(4 + 1 + 23); // max packet size, charset, reserved
  const user = cursor.nulTerminated().toString('utf8');
  let authResponse: Buffer;
  if (capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = cursor.bytes(cursor.lengthEncodedInteger());
  else if (capabilities & Capability.SECURE_CONNECTION) authResponse = cursor.bytes(cursor.uint8());
  else authResponse = cursor.nulTerminated();
  let database: string | null = null;
  if (capabilities & Capability.CONNECT_WITH_DB && cursor.remaining > 0) {
    database = cursor.nulTerminated().toString('utf8') || null;
  }
  let plugin: string | null = null;
  if (capabilities & Capability.PLUGIN_AUTH && cursor.remaining > 0) {
    plugin = cursor.nulTerminated().toString('latin1');
  }
  return { capabilities, user, authResponse, database, plugin };
}

/** AuthSwitchRequest: asks a client that chose another plugin (MySQL 8's caching_sha2) for native auth. */
export function authSwitchRequest(scramble: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${AUTH_PLUGIN}\0`, 'latin1'), scramble, Buffer.from([0])]);
}

const sha1 = (...parts: Buffer[]): Buffer => {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** SHA1(SHA1(password)): all a server needs to check mysql_native_password logins. */
export function nativePasswordHash(password: string): Buffer {
  return sha1(sha1(Buffer.from(password, 'utf8')));
}

/** The hash as MySQL writes it (`PASSWORD()`, mysql.user): '*' and 40 upper-case hex digits. */
export function storedPasswordHash(password: string): string {
  return `*${nativePasswordHash(password).toString('hex').toUpperCase()}`;
}

/** The SHA1(SHA1(password)) of a hash written by storedPasswordHash. */
export function fromStoredPasswordHash(stored: string): Buffer {
  return Buffer.from(stored.slice(1), 'hex');
}

/**
 * mysql_native_password: the client sends SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). We keep only
 * SHA1(SHA1(pw)), recover SHA1(pw) from the response and check that it hashes to what we keep.
 */
export function verifyNativePassword(scramble: Buffer, response: Buffer, doubleHash: Buffer): boolean {
  if (response.length !== SCRAMBLE_LENGTH || doubleHash.length !== SCRAMBLE_LENGTH) return false;
  const mask = sha1(scramble, doubleHash);
  const candidate = Buffer.alloc(SCRAMBLE_LENGTH);
  for (let i = 0; i < SCRAMBLE_LENGTH; i++) candidate[i] = response[i]! ^ mask[i]!;
  return timingSafeEqual(sha1(candidate), doubleHash);
}
