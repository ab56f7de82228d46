import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  useNACK,
  usePLI,
  useREMB,
  type RTCRtpTransceiver,
  type RtpPacket,
} from 'werift';
import { MediaError } from '../src/conference/media.js';
import type { VideoCodec } from '../src/domain.js';
import type { RtpFields } from './rtp/packet.js';

/** Where this node's media is reachable, and how long a silent leg lives: [media] in comet.ini. */
export interface MediaNetwork {
  /** Addresses advertised as host candidates (a public or NAT 1:1 address, or 127.0.0.1 in tests). */
  announcedAddresses: string[];
  /** Bind and gather only on `announcedAddresses` (no interface enumeration), e.g. loopback tests. */
  announcedOnly: boolean;
  portRange: [number, number] | undefined;
  /** STUN/TURN servers, as RTCPeerConnection takes them. */
  iceServers: { urls: string; username?: string; credential?: string }[];
  /** A leg from which no RTP or RTCP has come for this long has failed ([media] media_timeout). */
  silenceTimeoutMs: number;
  /** A leg whose ICE and DTLS are not up this long after its answer has failed ([media] connect_timeout). */
  connectTimeoutMs: number;
}

const VIDEO_CODECS: Record<VideoCodec, () => RTCRtpCodecParameters> = {
  VP8: () => new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType: 96, rtcpFeedback: [useNACK(), usePLI(), useREMB()] }),
  H264: () =>
    new RTCRtpCodecParameters({
      mimeType: 'video/H264',
      clockRate: 90_000,
      payloadType: 102,
      rtcpFeedback: [useNACK(), usePLI(), useREMB()],
      parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
    }),
};

export interface PeerHandlers {
  onVideo(packet: RtpFields, codec: VideoCodec): void;
  onAudio(payload: Buffer): void;
  /** The browser asked for a keyframe of what we send it. */
  onKeyframeRequest(): void;
  /**
   * ICE or DTLS failed or did not connect within `connectTimeoutMs`, the browser closed the connection, or it
   * sent nothing for `silenceTimeoutMs`. Called at most once, never before the answer is returned, and never
   * once the leg is being closed here.
   */
  onFailed(): void;
}

/** One member's WebRTC leg, terminated here. */
export interface MemberPeer {
  answer: string;
  /** What we send: undefined for a direction the browser did not offer. */
  videoOut: MediaStreamTrack | undefined;
  audioOut: MediaStreamTrack | undefined;
  /** The codec our video goes out in (the profile's if the browser offered it). */
  videoCodec: VideoCodec | undefined;
  requestKeyframe(): void;
  close(): Promise<void>;
}

const codecOf = (mimeType: string): VideoCodec | undefined =>
  mimeType.toLowerCase() === 'video/vp8' ? 'VP8' : mimeType.toLowerCase() === 'video/h264' ? 'H264' : undefined;

/**
 * Answers a browser's offer: Opus, VP8 and H.264 (packetization-mode 1) with NACK and PLI; every
 * transceiver sendrecv (werift needs that before createAnswer, or the browser never fires ontrack),
 * or sendonly for a viewer who sends nothing. Non-trickle: the answer carries all candidates. The offer may
 * carry none we can use (browsers hide their addresses behind mDNS .local names): the browser's checks then
 * tell us where it is (peer-reflexive candidates, see patches/werift+0.24.4.patch).
 */
export async function answerOffer(
  offer: string,
  options: { preferredCodec: VideoCodec; receive: boolean; network: MediaNetwork; handlers: PeerHandlers },
): Promise<MemberPeer> {
  // werift waits forever on an offer without media (ICE gathering never completes): refuse it up front.
  if (!/^m=(audio|video) /m.test(offer)) throw new MediaError('cannot answer the offer: it has no audio or video');
  const { network, handlers } = options;
  const pc = new RTCPeerConnection({
    iceServers: network.iceServers,
    bundlePolicy: 'max-bundle',
    icePortRange: network.portRange,
    iceAdditionalHostAddresses: network.announcedAddresses,
    ...(network.announcedOnly
      ? { iceUseIpv4: false, iceUseIpv6: false, iceInterfaceAddresses: { udp4: network.announcedAddresses[0]! } }
      : {}),
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1' })],
      video: [VIDEO_CODECS[options.preferredCodec](), VIDEO_CODECS[options.preferredCodec === 'VP8' ? 'H264' : 'VP8']()],
    },
  });
  let ended = false;
  let answered = false;
  let failedWhileAnswering = false;
  const stoppers: (() => void)[] = [];
  const stopWatching = (): void => stoppers.splice(0).forEach((stop) => stop());
  const fail = (): void => {
    if (ended) return;
    // Before the answer is out the failure is answerOffer's to throw (no 200 OK with a dead leg).
    if (!answered) {
      failedWhileAnswering = true;
      return;
    }
    ended = true;
    stopWatching();
    handlers.onFailed();
  };
  // Our own close must not read as a failure: the leg may have been replaced by a newer one of the member.
  const close = async (): Promise<void> => {
    ended = true;
    stopWatching();
    await pc.close().catch(() => undefined);
  };
  // Watched from the start: werift can fail the connection while the answer is being made.
  const states = pc.connectionStateChange.subscribe((state) => {
    if (state === 'failed' || state === 'closed') fail();
  });
  stoppers.push(() => states.unSubscribe());
  try {
    const tracks = new Map<string, MediaStreamTrack>();
    let videoTransceiver: RTCRtpTransceiver | undefined;
    let videoSsrc: number | undefined;
    let askedForKeyframe = false;
    pc.onTrack.subscribe((track) => {
      if (track.kind === 'audio') {
        track.onReceiveRtp.subscribe((rtp) => handlers.onAudio(rtp.payload));
        return;
      }
      track.onReceiveRtp.subscribe((rtp) => {
        videoSsrc = rtp.header.ssrc;
        // onTrack fires before the connection is up; a PLI sent then is lost, so ask on the first packet.
        if (!askedForKeyframe) {
          askedForKeyframe = true;
          videoTransceiver?.receiver.sendRtcpPLI(videoSsrc);
        }
        const codec = videoTransceiver?.codecs.find((c) => c.payloadType === rtp.header.payloadType);
        const name = codec && codecOf(codec.mimeType);
        if (!name) return;
        handlers.onVideo(rtpFieldsOf(rtp), name);
      });
    });
    await withTimeout(pc.setRemoteDescription({ type: 'offer', sdp: offer }), NEGOTIATION_TIMEOUT_MS);
    for (const transceiver of pc.getTransceivers()) {
      transceiver.setDirection(options.receive ? 'sendrecv' : 'sendonly');
      const out = new MediaStreamTrack({ kind: transceiver.kind });
      transceiver.sender.replaceTrack(out);
      tracks.set(transceiver.kind, out);
      if (transceiver.kind === 'video') {
        videoTransceiver = transceiver;
        // Send in the profile's codec when the browser offered it: the answer lists it first.
        const preferred = transceiver.codecs.find((c) => codecOf(c.mimeType) === options.preferredCodec);
        if (preferred) {
          transceiver.codecs = [preferred, ...transceiver.codecs.filter((c) => c !== preferred)];
          transceiver.sender.codec = preferred;
        }
      }
    }
    await withTimeout(pc.createAnswer().then((answer) => pc.setLocalDescription(answer)), NEGOTIATION_TIMEOUT_MS);
    await withTimeout(gathered(pc), NEGOTIATION_TIMEOUT_MS);
    if (failedWhileAnswering) throw new Error('the connection failed before the answer was made');
    if (videoTransceiver) {
      // werift routes a browser's PLI to our receiver, not our sender (same m-line): match it on the transport.
      const sender = videoTransceiver.sender;
      sender.dtlsTransport.onRtcp.subscribe((packet) => {
        const feedback = (packet as { type: number; feedback?: { count: number; mediaSsrc: number } }).feedback;
        if ((packet as { type: number }).type !== 206 || !feedback) return;
        if ((feedback.count === 1 && feedback.mediaSsrc === sender.ssrc) || feedback.count === 4) handlers.onKeyframeRequest();
      });
    }
    answered = true;
    stoppers.push(watchConnecting(pc, network.connectTimeoutMs, fail), watchSilence(pc, network.silenceTimeoutMs, fail));
    const sentCodec = videoTransceiver?.sender.codec;
    return {
      answer: pc.localDescription!.sdp,
      videoOut: tracks.get('video'),
      audioOut: tracks.get('audio'),
      videoCodec: sentCodec ? codecOf(sentCodec.mimeType) : undefined,
      requestKeyframe: () => {
        if (videoTransceiver && videoSsrc !== undefined) videoTransceiver.receiver.sendRtcpPLI(videoSsrc);
      },
      close,
    };
  } catch (error) {
    await close();
    throw new MediaError(`cannot answer the offer: ${(error as Error).message}`);
  }
}

/** A hostile or broken offer must not hold a room's changes (they run one at a time) for ever. */
const NEGOTIATION_TIMEOUT_MS = 10_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Calls `onTimeout` unless the connection (ICE, then DTLS) is up within `timeoutMs`: a browser whose packets
 * cannot reach us (a firewall, an address we cannot route to) would otherwise sit in the room as a black tile.
 * Returns the stop.
 */
function watchConnecting(pc: RTCPeerConnection, timeoutMs: number, onTimeout: () => void): () => void {
  if (pc.connectionState === 'connected') return () => undefined;
  const timer = setTimeout(onTimeout, timeoutMs);
  timer.unref();
  const { unSubscribe } = pc.connectionStateChange.subscribe((state) => {
    if (state === 'connected') clearTimeout(timer);
  });
  return () => {
    clearTimeout(timer);
    unSubscribe();
  };
}

/**
 * Calls `onSilent` once no RTP or RTCP has come from the peer for `timeoutMs`: a browser gone without a BYE
 * (network lost, laptop closed) sends nothing, while a live one sends RTCP reports every second or so even
 * when muted. Only packets that decrypt count, so forged ones cannot keep a dead leg alive. Returns the stop.
 */
function watchSilence(pc: RTCPeerConnection, timeoutMs: number, onSilent: () => void): () => void {
  let heardAt = performance.now();
  const heard = (): void => {
    heardAt = performance.now();
  };
  const transports = new Set(pc.getTransceivers().map((transceiver) => transceiver.dtlsTransport));
  const subscriptions = [...transports].flatMap((transport) => [transport.onRtp.subscribe(heard), transport.onRtcp.subscribe(heard)]);
  const timer = setInterval(() => {
    if (performance.now() - heardAt >= timeoutMs) onSilent();
  }, Math.min(1000, timeoutMs / 4));
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const subscription of subscriptions) subscription.unSubscribe();
  };
}

async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        unSubscribe();
        resolve();
      }
    });
  });
}

/** The fields of a packet werift received, as the mixer's RTP code reads them. */
export function rtpFieldsOf({ header, payload }: RtpPacket): RtpFields {
  return { marker: header.marker, payloadType: header.payloadType, sequence: header.sequenceNumber, timestamp: header.timestamp, ssrc: header.ssrc, payload };
}
