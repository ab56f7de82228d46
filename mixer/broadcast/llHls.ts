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
  /** Complete segments listed. */
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
  /** Its init segment's number. */
  init: number;
  discontinuity: boolean;
  parts: Part[];
  duration: number;
  /** The whole segment, once complete. */
  bytes: Buffer | undefined;
}

export type BlockingResult<T> = { status: 200; body: T } | { status: 400 | 404 | 503; reason: string };
export interface MediaFile {
  bytes: Buffer;
  type: string;
}

/** Durations are compared with this slack: FFmpeg's timestamps are rounded to their timescale. */
const EPSILON = 0.001;
/** How many of the last segments list their parts. */
const SEGMENTS_WITH_PARTS = 3;
/** Segments kept after they leave the playlist, for players holding an older one (RFC 8216bis 6.2.2). */
const UNLISTED_SEGMENTS = 2;
/** Requests held at once (blocking reloads, hinted parts); more get 503 at once. */
const MAX_WAITING = 2000;
export const PLAYLIST = 'index.m3u8';

export class LowLatencyHls {
  private splitter = new BoxSplitter();
  private tracks: Map<number, TrackInfo> | undefined;
  private leadTrack: TrackInfo | undefined;
  private ftyp: Buffer | undefined;
  private pendingMoof: Buffer | undefined;
  private readonly inits = new Map<number, MediaFile>();
  private init = 0;
  /** Retained segments: the unlisted ones first, then the listed ones, the open one last. */
  private readonly segments: Segment[] = [];
  private part: Part | undefined;
  /**
   * Numbered from the clock in tenths of a second (segments are at least one second), so a broadcast that
   * replaces another at the same URL starts above the numbers players have seen; inits share the numbering.
   */
  private nextMsn = Math.floor(Date.now() / 100);
  private droppedDiscontinuities = 0;
  private afterRestart = false;
  private ended = false;
  private playlistText: string | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(readonly options: LowLatencyHlsOptions) {}

  /** Bytes of the fragmenter's output. Throws when they cannot be a fragmented MP4 (then restart()). */
  push(chunk: Buffer): void {
    if (this.ended) return;
    for (const box of this.splitter.push(chunk)) {
      // The boxes are views of the pipe's chunks, which nothing writes to again: kept as they are until a
      // part is closed, and copied once then.
      if (box.type === 'ftyp') this.ftyp = box.bytes;
      else if (box.type === 'moov') this.startInit(box.bytes);
      else if (box.type === 'moof') this.pendingMoof = box.bytes;
      else if (box.type === 'mdat' && this.pendingMoof) {
        this.addFragment(this.pendingMoof, box.bytes);
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

  /** The broadcast is over: the playlist ends (EXT-X-ENDLIST) and every waiting request is answered. */
  end(): void {
    this.closePart();
    this.closeSegment();
    this.ended = true;
    this.changed();
  }

  get targetDuration(): number {
    return Math.max(1, Math.ceil(this.options.segmentSeconds));
  }

  playlist(): string {
    this.playlistText ??= this.renderPlaylist();
    return this.playlistText;
  }

  /**
   * The playlist once it holds part `part` of segment `msn` (or the whole segment, part undefined): a
   * blocking playlist reload. A part past the end of its segment is the next segment's first. Answers 400
   * for a request too far ahead, 503 when it takes longer than three target durations. `cancelled` (the
   * client went away) lets the request go early.
   */
  async blockingPlaylist(msn: number, part: number | undefined, cancelled?: AbortSignal): Promise<BlockingResult<string>> {
    const last = this.segments.at(-1);
    if (last && msn > last.msn + 2) return { status: 400, reason: 'that segment is too far in the future' };
    const ready = last ? () => this.holds(msn, part) : () => this.segments.some((s) => s.parts.length > 0);
    return this.waitFor(ready, () => this.playlist(), cancelled);
  }

  /** A file of the playlist: init, segment or part; the part a player may ask for next is waited for. */
  async file(name: string, cancelled?: AbortSignal): Promise<BlockingResult<MediaFile>> {
    const init = /^init-(\d+)\.mp4$/.exec(name);
    if (init) {
      const found = this.inits.get(Number(init[1]));
      return found ? { status: 200, body: found } : { status: 404, reason: 'no such init segment' };
    }
    const type = this.leadTrack?.kind === 'video' ? 'video/mp4' : 'audio/mp4';
    const segment = /^segment-(\d+)\.m4s$/.exec(name);
    if (segment) {
      const bytes = this.segments.find((s) => s.msn === Number(segment[1]))?.bytes;
      return bytes ? { status: 200, body: { bytes, type } } : { status: 404, reason: 'no such segment' };
    }
    const part = /^part-(\d+)\.(\d+)\.m4s$/.exec(name);
    if (!part) return { status: 404, reason: 'no such file' };
    const [msn, index] = [Number(part[1]), Number(part[2])];
    const find = (): Buffer | undefined => this.segments.find((s) => s.msn === msn)?.parts[index]?.bytes;
    const bytes = find();
    if (bytes) return { status: 200, body: { bytes, type } };
    if (!this.mayComeNext(msn, index)) return { status: 404, reason: 'no such part' };
    // Settled when it comes, or when a later part does instead (then it never will).
    const settled = (): boolean => find() !== undefined || this.segments.some((s) => s.msn > msn && s.parts.length > 0) || this.ended;
    return this.waitFor(settled, () => {
      const found = find();
      if (!found) throw new NotThere();
      return { bytes: found, type };
    }, cancelled);
  }

  private renderPlaylist(): string {
    const { partSeconds, windowSegments } = this.options;
    const firstListed = Math.max(0, this.segments.length - (windowSegments + 1));
    const listed = this.segments.slice(firstListed);
    // The discontinuities before the first listed segment, its own included (its tag is not written).
    const discontinuities = this.droppedDiscontinuities + this.segments.slice(0, firstListed + 1).filter((s) => s.discontinuity).length;
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:6',
      `#EXT-X-TARGETDURATION:${this.targetDuration}`,
      `#EXT-X-MEDIA-SEQUENCE:${listed[0]?.msn ?? this.nextMsn}`,
      ...(discontinuities ? [`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuities}`] : []),
      // Rounded up: no part may be longer than the target the playlist declares.
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${secondsUp(3 * partSeconds)}`,
      `#EXT-X-PART-INF:PART-TARGET=${secondsUp(partSeconds)}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    let init = -1;
    listed.forEach((segment, index) => {
      if (segment.discontinuity && index > 0) lines.push('#EXT-X-DISCONTINUITY');
      if (segment.init !== init) lines.push(`#EXT-X-MAP:URI="init-${segment.init}.mp4"`);
      init = segment.init;
      if (index >= listed.length - SEGMENTS_WITH_PARTS) {
        segment.parts.forEach((part, i) => {
          lines.push(`#EXT-X-PART:DURATION=${seconds(part.duration)},URI="part-${segment.msn}.${i}.m4s"${part.independent ? ',INDEPENDENT=YES' : ''}`);
        });
      }
      if (segment.bytes) lines.push(`#EXTINF:${seconds(segment.duration)},`, `segment-${segment.msn}.m4s`);
    });
    const next = this.nextPart();
    if (next) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-${next.msn}.${next.part}.m4s"`);
    if (this.ended) lines.push('#EXT-X-ENDLIST');
    return `${lines.join('\n')}\n`;
  }

  private startInit(moov: Buffer): void {
    this.tracks = parseInit(moov);
    const all = [...this.tracks.values()];
    this.leadTrack = all.find((track) => track.kind === 'video') ?? all.find((track) => track.kind === 'audio');
    this.init = this.nextMsn;
    this.inits.set(this.init, { bytes: Buffer.concat(this.ftyp ? [this.ftyp, moov] : [moov]), type: this.leadTrack?.kind === 'video' ? 'video/mp4' : 'audio/mp4' });
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
    if (onKeyframe && !(this.part && this.part.leadSamples > 0) && (!segment || this.longEnough(segment))) {
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

  private longEnough(segment: Segment): boolean {
    return segment.duration >= this.options.segmentSeconds - EPSILON;
  }

  private currentSegment(): Segment | undefined {
    const last = this.segments.at(-1);
    return last && !last.bytes ? last : undefined;
  }

  private openSegment(): void {
    this.segments.push({ msn: this.nextMsn++, init: this.init, discontinuity: this.afterRestart, parts: [], duration: 0, bytes: undefined });
    this.afterRestart = false;
    while (this.segments.length > this.options.windowSegments + 1 + UNLISTED_SEGMENTS) {
      if (this.segments.shift()!.discontinuity) this.droppedDiscontinuities += 1;
    }
    for (const id of this.inits.keys()) if (id < this.segments[0]!.init) this.inits.delete(id);
    this.changed();
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
    // Sound can end a segment at any part: it does so at once, so the next part is hinted right.
    if (this.leadTrack?.kind !== 'video' && this.longEnough(segment)) this.closeSegment();
    this.changed();
  }

  /** Completes the open segment (it has a part: one is added as soon as a segment opens). */
  private closeSegment(): void {
    const segment = this.currentSegment();
    if (!segment) return;
    segment.bytes = Buffer.concat(segment.parts.map((part) => part.bytes!));
    this.changed();
  }

  /**
   * The part a player may ask for ahead of time (the preload hint). A segment long enough ends at the next
   * keyframe, so its next part is the next segment's first.
   */
  private nextPart(): { msn: number; part: number } | undefined {
    if (this.ended) return undefined;
    const segment = this.currentSegment();
    if (!segment) return this.segments.length ? { msn: this.nextMsn, part: 0 } : undefined;
    if (this.longEnough(segment) && !this.part?.leadSamples) return { msn: segment.msn + 1, part: 0 };
    return { msn: segment.msn, part: segment.parts.length };
  }

  /** The hinted part, or the other one it may turn out to be (a keyframe late or early). */
  private mayComeNext(msn: number, part: number): boolean {
    const next = this.nextPart();
    const segment = this.currentSegment();
    return (next?.msn === msn && next.part === part) || (segment !== undefined && ((segment.msn === msn && segment.parts.length === part) || (segment.msn + 1 === msn && part === 0)));
  }

  private holds(msn: number, part: number | undefined): boolean {
    if (this.ended) return true;
    const segment = this.segments.find((s) => s.msn === msn);
    if (part === undefined) return segment?.bytes !== undefined || this.segments.some((s) => s.msn > msn);
    if (segment && segment.parts.length > part) return true;
    return this.segments.some((s) => s.msn > msn && s.parts.length > 0);
  }

  private waitFor<T>(ready: () => boolean, answer: () => T, cancelled?: AbortSignal): Promise<BlockingResult<T>> {
    const settle = (): BlockingResult<T> | undefined => {
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
    if (this.waiters.size >= MAX_WAITING) return Promise.resolve({ status: 503, reason: 'too many requests waiting' });
    return new Promise((resolve) => {
      const finish = (result: BlockingResult<T>): void => {
        this.waiters.delete(check);
        clearTimeout(timer);
        cancelled?.removeEventListener('abort', onCancel);
        resolve(result);
      };
      const check = (): void => {
        const result = settle();
        if (result) finish(result);
      };
      const onCancel = (): void => finish({ status: 503, reason: 'the client went away' });
      const timer = setTimeout(() => finish({ status: 503, reason: 'not ready in three target durations' }), 3000 * this.targetDuration);
      cancelled?.addEventListener('abort', onCancel);
      this.waiters.add(check);
    });
  }

  /** Something a player sees changed: the playlist is rendered again, and waiting requests look again. */
  private changed(): void {
    this.playlistText = undefined;
    for (const waiter of [...this.waiters]) waiter();
  }
}

class NotThere extends Error {}

/** Playlist durations: three decimals are what HLS players read. */
function seconds(value: number): string {
  return value.toFixed(3);
}

/** Rounded up to the millisecond, for limits that nothing may exceed. */
function secondsUp(value: number): string {
  return (Math.ceil(value * 1000 - 1e-6) / 1000).toFixed(3);
}
