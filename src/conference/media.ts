import type { Member } from '../domain.js';

/** Why a member's media could not be set up; SIP answers it with 488. */
export class MediaError extends Error {
  override name = 'MediaError';
}

/**
 * What the signalling layer (SIP) needs from the media layer (the mixer) for one member: terminate the
 * member's WebRTC leg from the browser's SDP offer, and tear it down. Implemented by `mixer/`.
 */
export interface MediaEngine {
  /**
   * Returns the SDP answer; throws MediaError when the offer cannot be served (no common codec, bad SDP).
   * `onFailed` is called, at most once, when this leg fails: ICE or DTLS failed, the browser closed it, or
   * it sent no media for [media] media_timeout. Never for a leg left or replaced by a newer join.
   */
  join(member: Member, offer: string, onFailed: () => void): Promise<string>;
  /** Idempotent: a member who already left is ignored. */
  leave(member: Member): Promise<void>;
}
