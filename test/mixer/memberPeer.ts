import { RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI } from 'werift';

/**
 * A test member's WebRTC peer on loopback, offering what browsers offer: Opus, VP8 and H.264
 * (packetization-mode 1) with NACK and PLI. Shared by the fleet's members and the benchmark's probe.
 */
export function memberPeerConnection(): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    bundlePolicy: 'max-bundle',
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2, payloadType: 111 })],
      video: [
        new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType: 96, rtcpFeedback: [useNACK(), usePLI()] }),
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90_000,
          payloadType: 102,
          rtcpFeedback: [useNACK(), usePLI()],
          parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
        }),
      ],
    },
  });
}
