import type { UserId } from '../src/domain.js';

/** One listener of a room's audio. */
export interface Listener {
  userId: UserId;
  deaf: boolean;
}

/**
 * Which mix a listener hears. Listeners who hear the same thing share one mix (and one encoder):
 * everyone not heard themselves gets the full mix, deaf listeners get silence.
 */
export function mixKey(listener: Listener, heard: ReadonlySet<UserId>): string {
  if (listener.deaf) return 'silence';
  return heard.has(listener.userId) ? `minus:${listener.userId}` : 'all';
}

/**
 * Mix-minus for one frame period: the sum of every heard member, and for each key the sum without that
 * member, clipped to 16 bits. `frames` holds each heard member's decoded samples (equal lengths).
 */
export function mixFrames(frames: ReadonlyMap<UserId, Int16Array>, keys: ReadonlySet<string>, frameSamples: number): Map<string, Int16Array> {
  const sum = new Int32Array(frameSamples);
  for (const samples of frames.values()) for (let i = 0; i < frameSamples; i++) sum[i]! += samples[i] ?? 0;
  const out = new Map<string, Int16Array>();
  for (const key of keys) {
    const mix = new Int16Array(frameSamples);
    if (key !== 'silence') {
      const own = key.startsWith('minus:') ? frames.get(Number(key.slice(6))) : undefined;
      for (let i = 0; i < frameSamples; i++) {
        const value = sum[i]! - (own?.[i] ?? 0);
        mix[i] = value > 32767 ? 32767 : value < -32768 ? -32768 : value;
      }
    }
    out.set(key, mix);
  }
  return out;
}
