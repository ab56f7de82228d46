/**
 * A minimal real MediaEngine for the SIP tests, standing in for the mixer: a werift peer connection per
 * member that answers the browser's offer (sendrecv on every transceiver) and is closed on leave.
 */
import { RTCPeerConnection } from 'werift';
import { MediaError, type MediaEngine } from '../../src/conference/media.js';
import { roomKey, type Member } from '../../src/domain.js';

export function iceGathered(peer: RTCPeerConnection): Promise<unknown> {
  if (peer.iceGatheringState === 'complete') return Promise.resolve();
  return peer.iceGatheringStateChange.watch((state) => state === 'complete');
}

/** An offer as a browser makes it: audio and video, sendrecv, with its candidates. */
export async function browserOffer(): Promise<{ peer: RTCPeerConnection; sdp: string }> {
  const peer = new RTCPeerConnection({ iceServers: [] });
  peer.addTransceiver('audio', { direction: 'sendrecv' });
  peer.addTransceiver('video', { direction: 'sendrecv' });
  await peer.setLocalDescription(await peer.createOffer());
  await iceGathered(peer);
  return { peer, sdp: peer.localDescription?.sdp ?? '' };
}

export class WeriftMedia implements MediaEngine {
  readonly peers = new Map<string, RTCPeerConnection>();
  readonly joined: Member[] = [];
  readonly left: Member[] = [];
  /** How each join's leg reports its failure: a test calls it as a leg that failed would. */
  readonly failureOf = new Map<Member, () => void>();
  /** Milliseconds each join waits before answering, to let a test act while the media is set up. */
  joinDelayMs = 0;

  async join(member: Member, offer: string, onFailed: () => void): Promise<string> {
    if (!offer.startsWith('v=0')) throw new MediaError('not an SDP offer');
    this.joined.push(member);
    this.failureOf.set(member, onFailed);
    const peer = new RTCPeerConnection({ iceServers: [] });
    this.peers.set(key(member), peer);
    await peer.setRemoteDescription({ type: 'offer', sdp: offer });
    // As DESIGN.md says: an answerer must be sendrecv or the browser never gets a track.
    for (const transceiver of peer.getTransceivers()) transceiver.setDirection('sendrecv');
    await peer.setLocalDescription(await peer.createAnswer());
    await iceGathered(peer);
    await new Promise((resolve) => setTimeout(resolve, this.joinDelayMs));
    return peer.localDescription?.sdp ?? '';
  }

  async leave(member: Member): Promise<void> {
    this.left.push(member);
    const peer = this.peers.get(key(member));
    this.peers.delete(key(member));
    await peer?.close();
  }

  async close(): Promise<void> {
    await Promise.all([...this.peers.values()].map((peer) => peer.close()));
    this.peers.clear();
  }
}

const key = (member: Member): string => `${roomKey(member.devId, member.room)}:${member.userId}`;
