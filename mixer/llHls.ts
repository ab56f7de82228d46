import { BoxSplitter, parseFragment, parseInit, type TrackInfo } from './fmp4.js';

/**
 * Low-latency HLS (RFC 8216bis: partial segments, blocking playlist reload, preload hints) packaged in
 * memory from a fragmented MP4 stream. FFmpeg cuts a fragment at nearly every packet; here fragments are
 * gathered into parts of `partSeconds` of the lead track (video, or audio in a sound-only room) and parts
 * into segments that start on a keyframe. Players fetch parts while their segment is still being written,
 * so they can play a fraction of a second behind the encoder instead of whole segments behind.
 */
export interface LowLatencyHlsOptions {
  /** Target segment length; segments end on the first keyframe after it. */
  segmentSeconds: number;
  /** The declared PART-TARGET: a whole number of lead-track frames, so no part is longer. */
  partSeconds: number;
  /** Complete segments kept and listed. */
  windowSegments: number;
}

interface Part {
  chunks: Buffer[];
  bytes: Buffer | undefined;
  duration: number;
  /** Samples of the lead track in it. */
  leadSamples: number;
  independent: boolean;
}

interface Segment {
  msn: number;
  initVersion: number;
  discontinuity: boolean;
  parts: Part[];
  duration: number;
  complete: boolean;
}

export type BlockingResult<T> = { status: 200; body: T } | { status: 400 | 404 | 503; reason: string };

/** Durations are compared with this slack: FFmpeg's timestamps are rounded to their timescale. */
const EPSILON = 0.001;
/** How many of the last segments list their parts. */
const SEGMENTS_WITH_PARTS = 3;
export const PLAYLIST = 'index.m3u8';

export class LowLatencyHls {
  private splitter = new BoxSplitter();
  private tracks: Map<number, TrackInfo> | undefined;
  private leadTrack: TrackInfo | undefined;
  private ftyp: Buffer | undefined;
  private pendingMoof: Buffer | undefined;
  private readonly inits = new Map<number, Buffer>();
  private initVersion = 0;
  private readonly segments: Segment[] = [];
  private part: Part | undefined;
  /** Numbered from the clock, so a room broadcast again later never reuses a number players cached. */
  private nextMsn = Math.floor(Date.now() / 1000);
  private discontinuitySequence = 0;
  private afterRestart = false;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(readonly options: LowLatencyHlsOptions) {}

  /** Bytes of the fragmenter's output. Throws when they cannot be a fragmented MP4 (then restart()). */
  push(chunk: Buffer): void {
    for (const box of this.splitter.push(chunk)) {
      if (box.type === 'ftyp') this.ftyp = Buffer.from(box.bytes);
      else if (box.type === 'moov') this.startInit(box.bytes);
      else if (box.type === 'moof') this.pendingMoof = Buffer.from(box.bytes);
      else if (box.type === 'mdat' && this.pendingMoof) {
        this.addFragment(this.pendingMoof, Buffer.from(box.bytes));
        this.pendingMoof = undefined;
      }
    }
  }

  /** A new fragmenter: what the last one left half-done ends here, and a discontinuity follows. */
  restart(): void {
    this.splitter = new BoxSplitter();
    this.pendingMoof = undefined;
    this.closePart();
    this.closeSegment();
    this.tracks = undefined;
    this.afterRestart = this.segments.length > 0;
  }

  /** Releases every waiting request. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  get targetDuration(): number {
    return Math.max(1, Math.ceil(this.options.segmentSeconds));
  }

  playlist(): string {
    const { partSeconds } = this.options;
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      `#EXT-X-TARGETDURATION:${this.targetDuration}`,
      `#EXT-X-MEDIA-SEQUENCE:${this.segments[0]?.msn ?? this.nextMsn}`,
      ...(this.discontinuitySequence ? [`#EXT-X-DISCONTINUITY-SEQUENCE:${this.discontinuitySequence}`] : []),
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${seconds(3 * partSeconds)}`,
      `#EXT-X-PART-INF:PART-TARGET=${seconds(partSeconds)}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    let initVersion = -1;
    const firstWithParts = this.segments.length - SEGMENTS_WITH_PARTS;
    this.segments.forEach((segment, index) => {
      if (segment.discontinuity && index > 0) lines.push('#EXT-X-DISCONTINUITY');
      if (segment.initVersion !== initVersion) lines.push(`#EXT-X-MAP:URI="init-${segment.initVersion}.mp4"`);
      initVersion = segment.initVersion;
      if (index >= firstWithParts) {
        segment.parts.forEach((part, i) => {
          lines.push(`#EXT-X-PART:DURATION=${seconds(part.duration)},URI="part-${segment.msn}.${i}.m4s"${part.independent ? ',INDEPENDENT=YES' : ''}`);
        });
      }
      if (segment.complete) lines.push(`#EXTINF:${seconds(segment.duration)},`, `segment-${segment.msn}.m4s`);
    });
    const next = this.nextPart();
    if (next) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-${next.msn}.${next.part}.m4s"`);
    return `${lines.join('\n')}\n`;
  }

  /**
   * The playlist once it holds part `part` of segment `msn` (or the whole segment, part undefined):
   * a blocking playlist reload. Answers 400 for a request too far ahead, 503 when it takes longer than
   * three target durations.
   */
  async blockingPlaylist(msn: number, part: number | undefined): Promise<BlockingResult<string>> {
    const last = this.segments.at(-1);
    if (!last) return this.waitFor(() => this.segments.some((s) => s.parts.length > 0), () => this.playlist());
    if (msn > last.msn + 2) return { status: 400, reason: 'that segment is too far in the future' };
    return this.waitFor(() => this.holds(msn, part), () => this.playlist());
  }

  /** A file of the playlist: init, segment or part; the hinted next part is waited for. */
  async file(name: string): Promise<BlockingResult<Buffer>> {
    const init = /^init-(\d+)\.mp4$/.exec(name);
    if (init) {
      const bytes = this.inits.get(Number(init[1]));
      return bytes ? { status: 200, body: bytes } : { status: 404, reason: 'no such init segment' };
    }
    const segment = /^segment-(\d+)\.m4s$/.exec(name);
    if (segment) {
      const found = this.segments.find((s) => s.msn === Number(segment[1]) && s.complete);
      return found ? { status: 200, body: Buffer.concat(found.parts.map(partBytes)) } : { status: 404, reason: 'no such segment' };
    }
    const part = /^part-(\d+)\.(\d+)\.m4s$/.exec(name);
    if (!part) return { status: 404, reason: 'no such file' };
    const [msn, index] = [Number(part[1]), Number(part[2])];
    const find = (): Part | undefined => this.segments.find((s) => s.msn === msn)?.parts[index];
    if (find()) return { status: 200, body: partBytes(find()!) };
    const next = this.nextPart();
    if (!next || next.msn !== msn || next.part !== index) return { status: 404, reason: 'no such part' };
    return this.waitFor(() => find() !== undefined || this.segments.some((s) => s.msn > msn), () => {
      const found = find();
      if (!found) throw new NotThere();
      return partBytes(found);
    });
  }

  private startInit(moov: Buffer): void {
    this.tracks = parseInit(moov);
    const all = [...this.tracks.values()];
    this.leadTrack = all.find((track) => track.kind === 'video') ?? all.find((track) => track.kind === 'audio');
    this.initVersion += 1;
    this.inits.set(this.initVersion, Buffer.concat(this.ftyp ? [this.ftyp, moov] : [moov]));
  }

  private addFragment(moof: Buffer, mdat: Buffer): void {
    const lead = this.leadTrack;
    if (!this.tracks || !lead) return;
    const leadSamples = parseFragment(moof, this.tracks).filter((sample) => sample.trackId === lead.id);
    const onKeyframe = leadSamples[0]?.keyframe === true;
    // Segments, and so players, begin on a keyframe: anything before the first one is dropped.
    if (!this.currentSegment() && !onKeyframe && !this.part) return;
    // A keyframe begins a part (sound samples are all "keyframes": there, only the length cuts parts)...
    if (lead.kind === 'video' && onKeyframe && this.part && this.part.leadSamples > 0) this.closePart();
    // ...and, once the segment is long enough, a segment too.
    const segment = this.currentSegment();
    if (onKeyframe && !(this.part && this.part.leadSamples > 0) && (!segment || segment.duration >= this.options.segmentSeconds - EPSILON)) {
      this.closeSegment();
      this.openSegment();
    }
    const part = (this.part ??= { chunks: [], bytes: undefined, duration: 0, leadSamples: 0, independent: false });
    // Sound before the part's first picture does not make it depend on anything.
    if (part.leadSamples === 0 && leadSamples.length > 0) part.independent = onKeyframe;
    part.chunks.push(moof, mdat);
    part.leadSamples += leadSamples.length;
    part.duration += leadSamples.reduce((sum, sample) => sum + sample.duration, 0);
    if (part.duration >= this.options.partSeconds - EPSILON) this.closePart();
  }

  private currentSegment(): Segment | undefined {
    const last = this.segments.at(-1);
    return last && !last.complete ? last : undefined;
  }

  private openSegment(): void {
    this.segments.push({ msn: this.nextMsn++, initVersion: this.initVersion, discontinuity: this.afterRestart, parts: [], duration: 0, complete: false });
    this.afterRestart = false;
    while (this.segments.length > this.options.windowSegments + 1) {
      this.segments.shift();
      // The first segment's discontinuity tag is not written: it now counts in the sequence instead.
      if (this.segments[0]?.discontinuity) this.discontinuitySequence += 1;
    }
    for (const version of this.inits.keys()) {
      if (version < this.segments[0]!.initVersion) this.inits.delete(version);
    }
  }

  private closePart(): void {
    const part = this.part;
    const segment = this.currentSegment();
    this.part = undefined;
    if (!part || !segment) return;
    part.bytes = Buffer.concat(part.chunks);
    part.chunks = [];
    segment.parts.push(part);
    segment.duration += part.duration;
    this.wake();
  }

  private closeSegment(): void {
    const segment = this.currentSegment();
    if (!segment) return;
    if (segment.parts.length === 0) {
      this.segments.pop();
      this.nextMsn -= 1;
      return;
    }
    segment.complete = true;
    this.wake();
  }

  /** The part a player may ask for ahead of time (the preload hint). */
  private nextPart(): { msn: number; part: number } | undefined {
    const segment = this.currentSegment();
    if (segment) return { msn: segment.msn, part: segment.parts.length };
    return this.segments.length ? { msn: this.nextMsn, part: 0 } : undefined;
  }

  private holds(msn: number, part: number | undefined): boolean {
    if (this.segments.some((s) => s.msn > msn)) return true;
    const segment = this.segments.find((s) => s.msn === msn);
    if (!segment) return false;
    return part === undefined ? segment.complete : segment.complete || segment.parts.length > part;
  }

  private waitFor<T>(ready: () => boolean, answer: () => T): Promise<BlockingResult<T>> {
    const settle = (): BlockingResult<T> | undefined => {
      if (this.closed) return { status: 404, reason: 'the broadcast has ended' };
      if (!ready()) return undefined;
      try {
        return { status: 200, body: answer() };
      } catch (error) {
        if (error instanceof NotThere) return { status: 404, reason: 'no such part' };
        throw error;
      }
    };
    const now = settle();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const check = (): void => {
        const result = settle();
        if (!result) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve({ status: 503, reason: 'not ready in three target durations' });
      }, 3000 * this.targetDuration);
      this.waiters.add(check);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

class NotThere extends Error {}

function partBytes(part: Part): Buffer {
  return part.bytes ?? Buffer.concat(part.chunks);
}

/** Playlist durations: three decimals are what HLS players read. */
function seconds(value: number): string {
  return value.toFixed(3);
}
