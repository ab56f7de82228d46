import type { MediaStreamTrack } from 'werift';
import type { VideoCodec } from '../src/domain.js';
import { isH264KeyframeStart, isVp8KeyframeStart } from './rtp/depacketizer.js';
import { parseRtp, sequenceDelta } from './rtp/packet.js';
import type { PacketSink, ViewPipeline } from './pipeline.js';

/**
 * One subscriber's outgoing video. It follows one pipeline at a time; a switch (layout change, new
 * keyframe) is make-before-break: the new pipeline is followed from its first keyframe on, with sequence
 * numbers and timestamps rewritten so the browser sees one continuous stream.
 */
export class OutboundVideo implements PacketSink {
  private current: ViewPipeline | undefined;
  private pending: ViewPipeline | undefined;
  private sequenceOffset = 0;
  private timestampOffset = 0;
  private lastIn: { sequence: number; timestamp: number } | undefined;
  private lastOut: { sequence: number; timestamp: number } | undefined;
  /** Set after a jump in the input (an encoder restarted): forward nothing until a keyframe. */
  private resync = true;
  private readonly isKeyframeStart: (payload: Buffer) => boolean;

  constructor(
    private readonly track: MediaStreamTrack,
    codec: VideoCodec,
    private readonly onSwitched: (from: ViewPipeline | undefined) => void,
  ) {
    this.isKeyframeStart = codec === 'VP8' ? isVp8KeyframeStart : isH264KeyframeStart;
  }

  get pipeline(): ViewPipeline | undefined {
    return this.pending ?? this.current;
  }

  /** Starts following `pipeline` at its next keyframe; until then the current one keeps playing. */
  follow(pipeline: ViewPipeline): void {
    if (pipeline === this.pipeline) return;
    if (this.pending) this.pending.sinks.delete(this);
    this.pending = pipeline;
    pipeline.sinks.add(this);
  }

  detach(): void {
    this.current?.sinks.delete(this);
    this.pending?.sinks.delete(this);
    this.current = this.pending = undefined;
  }

  deliver(pipeline: ViewPipeline, packet: Buffer): void {
    const rtp = parseRtp(packet);
    if (!rtp) return;
    const keyframeStart = this.isKeyframeStart(rtp.payload);
    if (pipeline === this.pending) {
      if (!keyframeStart) return;
      const previous = this.current;
      previous?.sinks.delete(this);
      this.current = pipeline;
      this.pending = undefined;
      this.resync = true;
      this.onSwitched(previous);
    }
    if (pipeline !== this.current) return;
    if (this.lastIn && Math.abs(sequenceDelta(rtp.sequence, this.lastIn.sequence)) > 64) this.resync = true;
    if (this.resync) {
      if (!keyframeStart) return;
      this.rebase(rtp.sequence, rtp.timestamp, pipeline.view.fps);
    }
    this.lastIn = { sequence: rtp.sequence, timestamp: rtp.timestamp };
    const sequence = (rtp.sequence + this.sequenceOffset) & 0xffff;
    const timestamp = (rtp.timestamp + this.timestampOffset) >>> 0;
    this.lastOut = { sequence, timestamp };
    const out = Buffer.from(packet);
    out.writeUInt16BE(sequence, 2);
    out.writeUInt32BE(timestamp, 4);
    this.track.writeRtp(out);
  }

  /** Continues our output numbering from where it stopped: next sequence number, one frame later. */
  private rebase(sequence: number, timestamp: number, fps: number): void {
    this.resync = false;
    if (!this.lastOut) return;
    this.sequenceOffset = (this.lastOut.sequence + 1 - sequence) & 0xffff;
    this.timestampOffset = (this.lastOut.timestamp + Math.round(90_000 / fps) - timestamp) >>> 0;
  }
}
