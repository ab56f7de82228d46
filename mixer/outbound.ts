import type { MediaStreamTrack } from 'werift';
import { sequenceDelta } from './rtp/packet.js';
import type { EncodedPacket, PacketSink, ViewPipeline } from './pipeline.js';

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
  /** The last packet in (its sequence number) and out (both numbers); undefined before the first. */
  private lastInSequence: number | undefined;
  private lastOutSequence: number | undefined;
  private lastOutTimestamp = 0;
  /** Set after a jump in the input (an encoder restarted): forward nothing until a keyframe. */
  private resync = true;

  constructor(
    private readonly track: MediaStreamTrack,
    private readonly onSwitched: (from: ViewPipeline | undefined) => void,
  ) {}

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

  deliver(pipeline: ViewPipeline, packet: EncodedPacket): void {
    const { keyframeStart } = packet;
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
    if (this.lastInSequence !== undefined && Math.abs(sequenceDelta(packet.sequence, this.lastInSequence)) > 64) this.resync = true;
    if (this.resync) {
      if (!keyframeStart) return;
      this.rebase(packet.sequence, packet.timestamp, pipeline.view.fps);
    }
    this.lastInSequence = packet.sequence;
    const sequence = (packet.sequence + this.sequenceOffset) & 0xffff;
    const timestamp = (packet.timestamp + this.timestampOffset) >>> 0;
    this.lastOutSequence = sequence;
    this.lastOutTimestamp = timestamp;
    const out = Buffer.from(packet.bytes);
    out.writeUInt16BE(sequence, 2);
    out.writeUInt32BE(timestamp, 4);
    this.track.writeRtp(out);
  }

  /** Continues our output numbering from where it stopped: next sequence number, one frame later. */
  private rebase(sequence: number, timestamp: number, fps: number): void {
    this.resync = false;
    if (this.lastOutSequence === undefined) return;
    this.sequenceOffset = (this.lastOutSequence + 1 - sequence) & 0xffff;
    this.timestampOffset = (this.lastOutTimestamp + Math.round(90_000 / fps) - timestamp) >>> 0;
  }
}
