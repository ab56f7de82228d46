import opus from '@discordjs/opus';
import { afterEach, describe, expect, it } from 'vitest';
import { RoomAudio } from '../../mixer/audio/audio.js';
import type { SpeakerState } from '../../src/domain.js';
import { fixedRate } from '../../mixer/clock.js';

const { OpusEncoder } = opus;

/** A tone's Opus packets, 20 ms each. */
function tone(frequency: number, amplitude: number, frames: number): Buffer[] {
  const encoder = new OpusEncoder(48_000, 1);
  return Array.from({ length: frames }, (_, frame) => {
    const samples = Int16Array.from({ length: 960 }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * frequency * (frame * 960 + i)) / 48_000)));
    return encoder.encode(Buffer.from(samples.buffer));
  });
}

let audio: RoomAudio | undefined;
afterEach(() => audio?.close());

describe('the active speaker under network jitter', () => {
  it('keeps the floor for a speaker whose packets arrive in bursts, while a quieter member talks', async () => {
    const changes: SpeakerState[] = [];
    audio = new RoomAudio({ onTalking() {}, onSpeaker: (state) => changes.push(state) });
    audio.add(1, undefined, { audible: true, deaf: false });
    audio.add(2, undefined, { audible: true, deaf: false });
    const loud = tone(400, 12_000, 50);
    const quiet = tone(700, 3_000, 50);
    let frame = 0;
    // Member 1's packets come four at a time every 80 ms (more than the 3-frame queue holds, so some ticks
    // find none of theirs); member 2's come on time.
    const stop = fixedRate(20, () => {
      if (frame % 4 === 3) for (let back = 3; back >= 0; back--) audio!.receive(1, loud[(frame - back) % 50]!);
      // Member 2 starts half a second later: member 1 has the floor first.
      if (frame >= 25) audio!.receive(2, quiet[frame % 50]!);
      frame++;
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    stop();
    expect(changes.map((state) => state.active)).toEqual([1]);
  });
});
