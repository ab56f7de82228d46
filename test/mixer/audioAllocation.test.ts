import { afterEach, describe, expect, it } from 'vitest';
import opus from '@discordjs/opus';
import { Session } from 'node:inspector/promises';
import { getHeapStatistics } from 'node:v8';
import { MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';
import { RoomAudio } from '../../mixer/audio/audio.js';
import { fixedRate } from '../../mixer/clock.js';
import { tonePower } from './signals.js';

/**
 * The room audio tick with eight members talking, in real time (its own 20 ms clock): every listener hears
 * the others and not itself, listeners of one mix share its encoded payload, and a tick allocates nothing
 * beyond what the Opus binding and werift's packet objects do (measured by V8's sampling heap profiler).
 */

const { OpusEncoder } = opus;
const FRAME_SAMPLES = 960;
const TALKERS = 8;
const RUN_MS = 3000;
/** Each talker's tone: apart enough to be told apart over seconds, below Opus's voice band edge. */
const toneOf = (userId: number): number => 250 + 230 * userId;
/** A frequency nobody sends. */
const QUIET_HZ = 3000;
const silentTracker = { onTalking() {}, onSpeaker() {} };

/** A talker's packets: a continuous tone of `frequency`, encoded frame by frame. */
function tonePackets(frequency: number, frames: number): Buffer[] {
  const encoder = new OpusEncoder(48_000, 1);
  const packets: Buffer[] = [];
  for (let frame = 0; frame < frames; frame++) {
    const samples = new Int16Array(FRAME_SAMPLES);
    for (let i = 0; i < FRAME_SAMPLES; i++) samples[i] = Math.round(3000 * Math.sin((2 * Math.PI * frequency * (frame * FRAME_SAMPLES + i)) / 48_000));
    packets.push(encoder.encode(Buffer.from(samples.buffer)));
  }
  return packets;
}

/** Hands every talker's next packet to `receive` every 20 ms, as their browsers would; returns the stop. */
function talk(receive: (userId: number, payload: Buffer) => void, packets: Map<number, Buffer[]>): () => void {
  const talkers = [...packets.keys()];
  const lists = [...packets.values()];
  let frame = 0;
  return fixedRate(20, () => {
    // Index loops: the allocation measured below is the whole process's, so this allocates nothing.
    for (let i = 0; i < talkers.length; i++) receive(talkers[i]!, lists[i]![frame % lists[i]!.length]!);
    frame++;
  });
}

/** What a listener heard: its payloads decoded in order, the first half second (start-up) left out. */
function heard(packets: RtpPacket[]): Int16Array {
  const decoder = new OpusEncoder(48_000, 1);
  const pcm = Buffer.concat(packets.map((packet) => decoder.decode(packet.payload)).slice(25));
  return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let audio: RoomAudio | undefined;
afterEach(() => audio?.close());

describe('room audio tick', () => {
  it('gives each listener everyone but itself, one payload per mix, and the broadcast frames it may keep', async () => {
    audio = new RoomAudio(silentTracker);
    const received = new Map<number, RtpPacket[]>();
    const listen = (userId: number, deaf: boolean): void => {
      const track = new MediaStreamTrack({ kind: 'audio' });
      const packets: RtpPacket[] = [];
      track.onReceiveRtp.subscribe((packet) => packets.push(packet));
      received.set(userId, packets);
      audio!.add(userId, track, { audible: true, deaf });
    };
    const talkers = Array.from({ length: TALKERS }, (_, i) => i + 1);
    for (const userId of talkers) listen(userId, false);
    listen(9, false); // two quiet listeners: the full mix
    listen(10, false);
    listen(11, true); // deaf: silence
    const taps: Int16Array[] = [];
    const tapCopies: Int16Array[] = [];
    audio.broadcastTap = (samples) => {
      taps.push(samples);
      tapCopies.push(samples.slice());
    };

    const room = audio;
    const stop = talk((userId, payload) => room.receive(userId, payload), new Map(talkers.map((userId) => [userId, tonePackets(toneOf(userId), 50)])));
    await sleep(RUN_MS);
    stop();
    audio.close();

    const power = (samples: Int16Array): number[] => talkers.map((userId) => tonePower(samples, toneOf(userId)));
    for (const userId of talkers) {
      const powers = power(heard(received.get(userId)!));
      const own = powers[userId - 1]!;
      const others = powers.filter((_, i) => i !== userId - 1);
      expect(Math.min(...others), `listener ${userId} hears the others`).toBeGreaterThan(100 * Math.max(own, 1e-9));
    }
    const mix = heard(received.get(9)!);
    const full = power(mix);
    expect(Math.min(...full)).toBeGreaterThan(0.1 * Math.max(...full)); // every talker, at about the same level
    expect(Math.min(...full)).toBeGreaterThan(100 * tonePower(mix, QUIET_HZ));
    expect(Math.max(...power(heard(received.get(11)!)))).toBeLessThan(1e-3 * Math.min(...full));

    // Each listener has its own numbering and its own packet and header objects; listeners of a mix share its payload.
    const quiet = received.get(9)!;
    const alsoQuiet = received.get(10)!;
    expect(quiet.length).toBeGreaterThan((0.5 * RUN_MS) / 20);
    expect(alsoQuiet.length).toBe(quiet.length);
    for (let i = 1; i < quiet.length; i++) {
      expect((quiet[i]!.header.sequenceNumber - quiet[i - 1]!.header.sequenceNumber) & 0xffff).toBe(1);
      expect((quiet[i]!.header.timestamp - quiet[i - 1]!.header.timestamp) >>> 0).toBe(FRAME_SAMPLES);
    }
    for (let i = 0; i < quiet.length; i++) {
      expect(alsoQuiet[i]!.payload).toBe(quiet[i]!.payload);
      expect(alsoQuiet[i]).not.toBe(quiet[i]);
      expect(alsoQuiet[i]!.header).not.toBe(quiet[i]!.header);
    }
    const lastTick = quiet.length - 1;
    expect(new Set(talkers.map((userId) => received.get(userId)![lastTick]!.payload)).size).toBe(TALKERS);

    // The broadcast keeps what it is given (a stream write holds it): a fresh frame every tick, never written again.
    expect(new Set(taps).size).toBe(taps.length);
    taps.forEach((samples, i) => expect(samples).toEqual(tapCopies[i]));
    const broadcast = new Int16Array(taps.length * FRAME_SAMPLES);
    taps.forEach((samples, i) => broadcast.set(samples, i * FRAME_SAMPLES));
    expect(Math.min(...power(broadcast))).toBeGreaterThan(100 * tonePower(broadcast, QUIET_HZ));
  }, 30_000);

  it('allocates per tick no more than the Opus binding and the packet objects do', async () => {
    const packets = new Map(Array.from({ length: TALKERS }, (_, i) => [i + 1, tonePackets(toneOf(i + 1), 50)]));
    const profiler = new Session();
    profiler.connect();
    /** Every listener's last packet: listeners that keep it allocate nothing. */
    const lastPackets: RtpPacket[] = [];

    audio = new RoomAudio(silentTracker);
    let ticks = 0;
    for (let userId = 1; userId <= TALKERS; userId++) {
      const output = {
        writeRtp(packet: RtpPacket) {
          lastPackets[userId - 1] = packet;
          if (userId === 1) ticks++;
        },
      } as unknown as MediaStreamTrack;
      audio.add(userId, output, { audible: true, deaf: false });
    }
    const room = audio;
    const stopTalking = talk((userId, payload) => room.receive(userId, payload), packets);
    // Every mix's encoder made, and time for V8 to optimize the tick: until then the interpreter boxes
    // each intermediate double (levels, timestamps), about 1.5 KB a tick here, which the bound below allows for.
    await sleep(5000);
    const heapBefore = getHeapStatistics().used_heap_size;
    const roomBytes = await allocatedPerTick(profiler, () => ticks);
    const heapAfter = getHeapStatistics().used_heap_size;
    stopTalking();
    room.close();

    // On the same clocks, only what cannot be avoided: the binding's decode and encode output (a new Buffer
    // each), and one packet and header per listener around its payload.
    const decoders = new Map([...packets.keys()].map((userId) => [userId, new OpusEncoder(48_000, 1)]));
    const encoders = Array.from({ length: TALKERS }, () => new OpusEncoder(48_000, 1));
    const pcm = Buffer.alloc(FRAME_SAMPLES * 2);
    let bareTicks = 0;
    const stopBareTalking = talk((userId, payload) => decoders.get(userId)!.decode(payload), packets);
    const stopBareTicks = fixedRate(
      20,
      () => {
        const timestamp = (3e9 + bareTicks * FRAME_SAMPLES) >>> 0;
        for (let i = 0; i < TALKERS; i++) {
          lastPackets[i] = new RtpPacket(new RtpHeader({ sequenceNumber: bareTicks & 0xffff, timestamp, marker: false }), encoders[i]!.encode(pcm));
        }
        bareTicks++;
      },
      { catchUp: true },
    );
    await sleep(1000);
    const bareBytes = await allocatedPerTick(profiler, () => bareTicks);
    stopBareTalking();
    stopBareTicks();
    profiler.disconnect();

    console.log(
      `room audio, ${TALKERS} talking: heap allocated per tick ${roomBytes.toFixed(0)} B (receiving and the tick), ` +
        `${bareBytes.toFixed(0)} B for the bare decodes, encodes and packets; heap used ${(heapBefore / 1e6).toFixed(1)} → ${(heapAfter / 1e6).toFixed(1)} MB`,
    );
    // Before: about 13 KB a tick more than bare (new Maps, Sets, mix arrays and RTP buffers every tick).
    expect(roomBytes).toBeLessThan(bareBytes + TALKERS * 256);
  }, 30_000);
});

interface ProfileNode {
  selfSize: number;
  children: ProfileNode[];
}

/**
 * Heap bytes allocated per tick over RUN_MS, whatever allocated them (the whole process: no guessing which
 * function V8 inlined where), estimated by V8's sampling heap profiler, also counting objects already collected.
 */
async function allocatedPerTick(profiler: Session, ticks: () => number): Promise<number> {
  const options = { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
  await profiler.post('HeapProfiler.startSampling', options);
  const ticksBefore = ticks();
  await sleep(RUN_MS);
  const ticksRun = ticks() - ticksBefore;
  const { profile } = await profiler.post('HeapProfiler.stopSampling');
  expect(ticksRun).toBeGreaterThan((0.5 * RUN_MS) / 20);
  return bytes(profile.head as ProfileNode) / ticksRun;
}

function bytes(node: ProfileNode): number {
  return node.selfSize + node.children.reduce((sum, child) => sum + bytes(child), 0);
}
