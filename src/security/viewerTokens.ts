import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DevId, RoomName } from '../domain.js';

/** `<expiry, Unix seconds>.<HMAC-SHA256, base64url>`: what a viewer's URL carries as `?token=`. */
const TOKEN = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/**
 * Signed, expiring viewer tokens of private broadcasts: a token lets its holder watch one room of one
 * dev_id until it expires, and nothing else. The key is [broadcast] token_secret, or a random one per
 * start when that is empty (tokens then end with the process).
 */
export class ViewerTokens {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = secret ? Buffer.from(secret) : randomBytes(32);
  }

  issue(devId: DevId, room: RoomName): string {
    const expires = Math.floor(this.now() / 1000) + this.ttlSeconds;
    return `${expires}.${this.signature(devId, room, expires).toString('base64url')}`;
  }

  /** True for a token this server issued for this room, not expired; false for anything else. */
  verify(token: string, devId: DevId, room: RoomName): boolean {
    const parts = TOKEN.exec(token);
    if (!parts) return false;
    const expires = Number(parts[1]);
    if (expires * 1000 <= this.now()) return false;
    const given = Buffer.from(parts[2]!, 'base64url');
    return given.length === 32 && timingSafeEqual(given, this.signature(devId, room, expires));
  }

  private signature(devId: DevId, room: RoomName, expires: number): Buffer {
    // Newline-separated: a room name has no newline, so no two (dev_id, room, expiry) sign the same text.
    return createHmac('sha256', this.key).update(`viewer\n${devId}\n${room}\n${expires}`).digest();
  }
}
