import type { UserId } from '../../src/domain.js';

/** One listener of a room's audio. */
export interface Listener {
  userId: UserId;
  deaf: boolean;
  /** Others hear this listener in the current frame period. */
  heard: boolean;
}

/**
 * What a listener hears: a member's id for everyone but that member, 'all' for everyone, 'silence' for
 * nothing. Listeners who hear the same thing share one mix (and one encoder).
 */
export type MixKey = UserId | 'all' | 'silence';

/** Which mix a listener hears: everyone not heard themselves gets the full mix, deaf listeners silence. */
export function mixKey(listener: Listener): MixKey {
  if (listener.deaf) return 'silence';
  return listener.heard ? listener.userId : 'all';
}

/**
 * Mix-minus for one frame period, in memory kept from one period to the next: the heard members' frames
 * are summed once in 32 bits, and each mix is that sum less one member's own frame, clipped to 16 bits.
 */
export class MixMinus {
  private readonly sum: Int32Array;

  constructor(frameSamples: number) {
    this.sum = new Int32Array(frameSamples);
  }

  /** A new frame period: nobody heard yet. */
  reset(): void {
    this.sum.fill(0);
  }

  /** One heard member's frame (frameSamples long). */
  add(samples: Int16Array): void {
    const sum = this.sum;
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + samples[i]!;
  }

  /** Writes into `out` everyone added but `own` (one of the added frames; none: the full mix), clipped. */
  mixInto(out: Int16Array, own?: Int16Array): void {
    const sum = this.sum;
    // Two loops rather than a test per sample: this runs for every distinct mix, every 20 ms.
    if (own) for (let i = 0; i < sum.length; i++) out[i] = clip16(sum[i]! - own[i]!);
    else for (let i = 0; i < sum.length; i++) out[i] = clip16(sum[i]!);
  }
}

function clip16(value: number): number {
  return value > 32767 ? 32767 : value < -32768 ? -32768 : value;
}
