import { sequenceDelta, type RtpFields } from './packet.js';

/**
 * Puts received packets back in sequence order. NACK retransmissions arrive late and out of order, and
 * werift hands packets over as they come; a packet missing for longer than `maxWaitMs` is given up on
 * (`onLoss`) so one loss never stalls a member for more than that.
 */
export class ReorderBuffer {
  private expected: number | undefined;
  private ssrc: number | undefined;
  private readonly waiting = new Map<number, RtpFields>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onPacket: (packet: RtpFields) => void,
    private readonly onLoss: () => void,
    private readonly maxWaitMs = 80,
    private readonly maxPackets = 256,
  ) {}

  push(packet: RtpFields): void {
    if (packet.ssrc !== this.ssrc) {
      // Another stream (the sender restarted its encoder): what waits of the old one can never be played
      // next to it, and must not pile up while a sender keeps switching.
      if (this.ssrc !== undefined) this.resynchronise();
      this.ssrc = packet.ssrc;
      this.expected = packet.sequence;
    }
    const delta = sequenceDelta(packet.sequence, this.expected!);
    if (Math.abs(delta) > this.maxPackets) {
      // The sender jumped (it restarted): resynchronise instead of waiting for, or discarding, thousands.
      this.resynchronise();
      this.expected = packet.sequence;
    } else if (delta < 0) {
      return; // a duplicate, or too late: already given up on
    }
    this.waiting.set(packet.sequence, packet);
    this.release();
    if (this.waiting.size > 0 && !this.timer) this.timer = setTimeout(() => this.giveUp(), this.maxWaitMs);
  }

  /** Packets waiting for the ones before them: at most `maxPackets`. */
  get held(): number {
    return this.waiting.size;
  }

  close(): void {
    clearTimeout(this.timer);
    this.waiting.clear();
  }

  private release(): void {
    for (let packet = this.waiting.get(this.expected!); packet; packet = this.waiting.get(this.expected!)) {
      this.waiting.delete(this.expected!);
      this.expected = (this.expected! + 1) & 0xffff;
      this.onPacket(packet);
    }
    if (this.waiting.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private resynchronise(): void {
    this.waiting.clear();
    this.onLoss();
  }

  /** Skips to the oldest packet we have, reporting the hole. */
  private giveUp(): void {
    this.timer = undefined;
    if (this.waiting.size === 0) return;
    let oldest: number | undefined;
    for (const sequence of this.waiting.keys()) {
      if (oldest === undefined || sequenceDelta(sequence, oldest) < 0) oldest = sequence;
    }
    this.expected = oldest;
    this.onLoss();
    this.release();
    if (this.waiting.size > 0) this.timer = setTimeout(() => this.giveUp(), this.maxWaitMs);
  }
}
