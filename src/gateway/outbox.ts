import type { EncodedFrame } from '../messaging/frames.js';

interface Entry {
  frame: EncodedFrame;
  droppable: boolean;
}

/**
 * Frames waiting for a browser that reads slower than it is written to, oldest first. Past `maxBytes` the
 * oldest droppable frames (pipe messages) go: a pipe's newest messages matter most, and a flooded pipe must
 * not cost its subscribers their connection. Other frames (personal messages, answers) are never dropped;
 * if they alone overflow it, `isOverflowing()` says so and the owner gives up on the browser.
 */
export class Outbox {
  /** A queue with a moving head; dropped entries leave a gap (undefined) until the head passes them. */
  private entries: (Entry | undefined)[] = [];
  private head = 0;
  /** Entries before this index hold nothing droppable: where the search for the oldest droppable resumes. */
  private dropFrom = 0;
  private count = 0;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  isEmpty(): boolean {
    return this.count === 0;
  }

  isOverflowing(): boolean {
    return this.bytes > this.maxBytes;
  }

  /** Queues a frame; returns how many droppable frames went to make room (it may be one of them). */
  push(frame: EncodedFrame, droppable: boolean): number {
    this.entries.push({ frame, droppable });
    this.count++;
    this.bytes += frame.length;
    let dropped = 0;
    while (this.bytes > this.maxBytes && this.dropOldest()) dropped++;
    return dropped;
  }

  shift(): EncodedFrame | undefined {
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head++];
      if (!entry) continue;
      this.count--;
      this.bytes -= entry.frame.length;
      this.compact();
      return entry.frame;
    }
    return undefined;
  }

  private dropOldest(): boolean {
    for (let index = Math.max(this.dropFrom, this.head); index < this.entries.length; index++) {
      const entry = this.entries[index];
      if (!entry?.droppable) continue;
      this.entries[index] = undefined;
      this.count--;
      this.bytes -= entry.frame.length;
      this.dropFrom = index + 1;
      return true;
    }
    this.dropFrom = this.entries.length;
    return false;
  }

  /** Forgets the consumed head once it is most of the array (amortized O(1) per frame). */
  private compact(): void {
    if (this.count === 0) {
      this.entries = [];
      this.head = this.dropFrom = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.dropFrom = Math.max(0, this.dropFrom - this.head);
      this.head = 0;
    }
  }
}
