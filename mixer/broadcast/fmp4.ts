/**
 * Just enough of ISO BMFF (fragmented MP4) to cut FFmpeg's fragments into LL-HLS parts: the top-level boxes
 * of a stream, each track's timescale and kind from the init segment, and each fragment's samples (decode
 * time, duration, keyframe or not). Everything else in the boxes is copied through untouched.
 */

/** What a corrupt stream gets: the only error the reader throws, whatever the bytes. */
export class Fmp4Error extends Error {
  constructor(problem: string) {
    super(`fmp4: ${problem}`);
    this.name = 'Fmp4Error';
  }
}

export interface Box {
  type: string;
  /** The whole box, header included. */
  bytes: Buffer;
}

/** Splits a byte stream into its top-level boxes, however the chunks fall. */
export class BoxSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBoxBytes = 64 * 1024 * 1024) {}

  /** The boxes completed by this chunk. Throws on a box that cannot be real (a corrupt stream). */
  push(chunk: Buffer): Box[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const boxes: Box[] = [];
    let offset = 0;
    for (;;) {
      const size = boxSizeAt(this.pending, offset);
      if (size === undefined) break;
      if (size < 8 || size > this.maxBoxBytes) throw new Fmp4Error(`a top-level box of ${size} bytes`);
      if (offset + size > this.pending.length) break;
      boxes.push({ type: this.pending.toString('latin1', offset + 4, offset + 8), bytes: this.pending.subarray(offset, offset + size) });
      offset += size;
    }
    this.pending = this.pending.subarray(offset);
    return boxes;
  }
}

/** The size of the box starting at offset, once its header is in; 64-bit sizes included. */
function boxSizeAt(data: Buffer, offset: number): number | undefined {
  if (offset + 8 > data.length) return undefined;
  const size = data.readUInt32BE(offset);
  if (size !== 1) return size === 0 ? data.length - offset : size;
  if (offset + 16 > data.length) return undefined;
  return Number(data.readBigUInt64BE(offset + 8));
}

/** The child boxes inside a box's payload (from `start`, which skips the header and any full-box fields). */
function* children(box: Buffer, start = 8): Generator<{ type: string; body: Buffer }> {
  let offset = start;
  while (offset + 8 <= box.length) {
    const size = boxSizeAt(box, offset);
    if (size === undefined || size < 8 || offset + size > box.length) return;
    yield { type: box.toString('latin1', offset + 4, offset + 8), body: box.subarray(offset, offset + size) };
    offset += size;
  }
}

/** A field of a box; a box too short for it is corrupt. */
function u32(box: Buffer, offset: number): number {
  if (offset + 4 > box.length) throw new Fmp4Error(`a ${box.toString('latin1', 4, 8)} box of ${box.length} bytes is cut short`);
  return box.readUInt32BE(offset);
}

function u64(box: Buffer, offset: number): number {
  return u32(box, offset) * 2 ** 32 + u32(box, offset + 4);
}

function child(box: Buffer, type: string, start = 8): Buffer | undefined {
  for (const found of children(box, start)) if (found.type === type) return found.body;
  return undefined;
}

export interface TrackInfo {
  id: number;
  kind: 'video' | 'audio' | 'other';
  timescale: number;
  /** trex defaults, used when a fragment gives none. */
  defaultDuration: number;
  defaultFlags: number;
}

/** Tracks of an init segment's moov. */
export function parseInit(moov: Buffer): Map<number, TrackInfo> {
  const tracks = new Map<number, TrackInfo>();
  for (const trak of children(moov)) {
    if (trak.type !== 'trak') continue;
    const tkhd = child(trak.body, 'tkhd');
    const mdia = child(trak.body, 'mdia');
    const mdhd = mdia && child(mdia, 'mdhd');
    const hdlr = mdia && child(mdia, 'hdlr');
    if (!tkhd || !mdhd || !hdlr) continue;
    const id = u32(tkhd, tkhd[8] === 1 ? 28 : 20);
    const timescale = u32(mdhd, mdhd[8] === 1 ? 28 : 20);
    // Every duration is divided by it.
    if (timescale === 0) throw new Fmp4Error(`track ${id} has a timescale of 0`);
    const handler = hdlr.toString('latin1', 16, 20);
    tracks.set(id, { id, kind: handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other', timescale, defaultDuration: 0, defaultFlags: 0 });
  }
  const mvex = child(moov, 'mvex');
  for (const trex of mvex ? children(mvex) : []) {
    if (trex.type !== 'trex') continue;
    const track = tracks.get(u32(trex.body, 12));
    if (!track) continue;
    track.defaultDuration = u32(trex.body, 20);
    track.defaultFlags = u32(trex.body, 28);
  }
  return tracks;
}

export interface FragmentSample {
  trackId: number;
  /** Seconds. */
  decodeTime: number;
  duration: number;
  keyframe: boolean;
}

/** Far more than a fragment of a live stream holds. */
const MAX_SAMPLES_PER_RUN = 10_000;

/** sample_is_non_sync_sample in the sample flags. */
const NON_SYNC = 0x0001_0000;

/** The samples of a moof, every track. Unknown tracks are skipped. */
export function parseFragment(moof: Buffer, tracks: ReadonlyMap<number, TrackInfo>): FragmentSample[] {
  const samples: FragmentSample[] = [];
  for (const traf of children(moof)) {
    if (traf.type !== 'traf') continue;
    const tfhd = child(traf.body, 'tfhd');
    const tfdt = child(traf.body, 'tfdt');
    const track = tfhd && tracks.get(u32(tfhd, 12));
    if (!tfhd || !tfdt || !track) continue;
    const { defaultDuration, defaultFlags } = trackDefaults(tfhd, track);
    let decodeTime = tfdt[8] === 1 ? u64(tfdt, 12) : u32(tfdt, 12);
    for (const trun of children(traf.body)) {
      if (trun.type !== 'trun') continue;
      for (const sample of trunSamples(trun.body, defaultDuration, defaultFlags)) {
        samples.push({ trackId: track.id, decodeTime: decodeTime / track.timescale, duration: sample.duration / track.timescale, keyframe: (sample.flags & NON_SYNC) === 0 });
        decodeTime += sample.duration;
      }
    }
  }
  return samples;
}

/** tfhd's default duration and flags, over the trex ones. */
function trackDefaults(tfhd: Buffer, track: TrackInfo): { defaultDuration: number; defaultFlags: number } {
  const flags = u32(tfhd, 8) & 0xffffff;
  let offset = 16;
  if (flags & 0x01) offset += 8; // base data offset
  if (flags & 0x02) offset += 4; // sample description index
  let defaultDuration = track.defaultDuration;
  let defaultFlags = track.defaultFlags;
  if (flags & 0x08) (defaultDuration = u32(tfhd, offset)), (offset += 4);
  if (flags & 0x10) offset += 4; // default sample size
  if (flags & 0x20) defaultFlags = u32(tfhd, offset);
  return { defaultDuration, defaultFlags };
}

function trunSamples(trun: Buffer, defaultDuration: number, defaultFlags: number): { duration: number; flags: number }[] {
  const flags = u32(trun, 8) & 0xffffff;
  const count = u32(trun, 12);
  let offset = 16;
  if (flags & 0x01) offset += 4; // data offset
  let firstFlags: number | undefined;
  if (flags & 0x04) (firstFlags = u32(trun, offset)), (offset += 4);
  // A corrupt count must not make us loop for ever: the samples' fields must fit in the box.
  const bytesPerSample = 4 * [0x100, 0x200, 0x400, 0x800].filter((field) => flags & field).length;
  if (count > MAX_SAMPLES_PER_RUN || count * bytesPerSample > trun.length - offset) throw new Fmp4Error(`a trun of ${count} samples does not fit`);
  const samples: { duration: number; flags: number }[] = [];
  for (let i = 0; i < count; i++) {
    let duration = defaultDuration;
    let sampleFlags = i === 0 && firstFlags !== undefined ? firstFlags : defaultFlags;
    if (flags & 0x100) (duration = trun.readUInt32BE(offset)), (offset += 4);
    if (flags & 0x200) offset += 4; // size
    if (flags & 0x400) (sampleFlags = trun.readUInt32BE(offset)), (offset += 4);
    if (flags & 0x800) offset += 4; // composition time offset
    samples.push({ duration, flags: sampleFlags });
  }
  return samples;
}
