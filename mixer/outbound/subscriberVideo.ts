import { RtpHeader, RtpPacket, type MediaStreamTrack } from 'werift';
import type { EncodedPacket, PacketSink, ViewStream } from '../encoders/viewStream.js';

/**
 * One subscriber's outgoing video: the packets of the view stream it follows, with sequence numbers that
 * run on without a jump when it moves to another stream (timestamps already share one clock).
 */
export class SubscriberVideo implements PacketSink {
  private source: ViewStream | undefined;
  private waitingForKeyframe = true;
  private sequenceOffset = 0;
  private lastSequence: number | undefined;

  constructor(private readonly track: MediaStreamTrack) {}

  get stream(): ViewStream | undefined {
    return this.source;
  }

  /**
   * Follows `stream` from its next keyframe, which is asked for at once. The stream followed before stops
   * now: the browser holds its last frame for a moment rather than show a view that is no longer its own.
   */
  follow(stream: ViewStream): void {
    if (stream === this.source) return;
    this.source?.sinks.delete(this);
    this.source = stream;
    this.waitingForKeyframe = true;
    stream.sinks.add(this);
    stream.requestKeyframe();
  }

  /** The browser lost something and asks for a keyframe. */
  requestKeyframe(): void {
    this.source?.requestKeyframe();
  }

  detach(): void {
    this.source?.sinks.delete(this);
    this.source = undefined;
  }

  deliver(stream: ViewStream, packet: EncodedPacket): void {
    if (stream !== this.source) return;
    if (this.waitingForKeyframe) {
      if (!packet.keyframeStart) return;
      this.waitingForKeyframe = false;
      if (this.lastSequence !== undefined) this.sequenceOffset = (this.lastSequence + 1 - packet.sequence) & 0xffff;
    }
    const sequenceNumber = (packet.sequence + this.sequenceOffset) & 0xffff;
    this.lastSequence = sequenceNumber;
    // A header of its own (werift rewrites it with this subscriber's SSRC and keeps it for retransmission)
    // around the payload every subscriber shares: no copy, no parse. werift sets the payload type.
    const header = new RtpHeader({ sequenceNumber, timestamp: packet.timestamp, marker: packet.marker });
    this.track.writeRtp(new RtpPacket(header, packet.payload));
  }
}
