/** The RTP fields the mixer reads from a member's packets. */
export interface RtpFields {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/** Difference a - b of 16-bit sequence numbers, in -32768..32767. */
export function sequenceDelta(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}
