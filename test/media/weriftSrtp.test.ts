import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MediaStreamTrack,
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtpHeader,
  RtpPacket,
  SrtcpSession,
  SrtpAuthenticationError,
  SrtpSession,
  type RTCDtlsTransport,
} from 'werift';
import { eventually, sleep } from '../mixer/harness.js';

/**
 * patches/werift+0.24.4.patch gives werift's SRTP (the ES module build, which `import 'werift'` loads) a
 * long-lived AES-CM keystream cipher and writes each protected packet once. Checked here against the RFC
 * 3711 test vectors and against an independent SRTP written below with one node:crypto cipher per packet,
 * byte for byte, over sequence-number rollover, large ROCs, every payload size class and RTP padding.
 */

const PROFILES = { 'AES_CM_128_HMAC_SHA1_80': ProtectionProfileAes128CmHmacSha1_80, 'AEAD_AES_128_GCM': ProtectionProfileAeadAes128Gcm } as const;
type ProfileName = keyof typeof PROFILES;

interface SessionKeys {
  key: Buffer;
  salt: Buffer;
  auth: Buffer;
}

/** RFC 3711 4.3.1 with a key derivation rate of 0: each session key is AES-CM keystream under the master key, its label at byte 7 of the IV. */
function derive(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const iv = Buffer.concat([masterSalt, Buffer.alloc(2)]);
  iv[7]! ^= label;
  return createCipheriv('aes-128-ctr', masterKey, iv).update(Buffer.alloc(length));
}

function sessionKeys(masterKey: Buffer, masterSalt: Buffer, rtcp: boolean): SessionKeys {
  const base = rtcp ? 3 : 0;
  return { key: derive(masterKey, masterSalt, base, 16), auth: derive(masterKey, masterSalt, base + 1, 20), salt: derive(masterKey, masterSalt, base + 2, 14) };
}

/** RFC 3711 4.1.1: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), index 48 bits. */
function aesCmIv(salt: Buffer, ssrc: number, index: number): Buffer {
  const fields = Buffer.alloc(16);
  fields.writeUInt32BE(ssrc, 4);
  fields.writeUIntBE(index, 8, 6);
  return Buffer.from(fields.map((byte, i) => byte ^ (salt[i] ?? 0)));
}

/** RFC 7714 8.1 and 9.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt, or (00 00 || SSRC || 00 00 || SRTCP index) XOR salt. */
function gcmIv(salt: Buffer, ssrc: number, high: number, low: number, lowBytes: 2 | 4): Buffer {
  const fields = Buffer.alloc(12);
  fields.writeUInt32BE(ssrc, 2);
  if (lowBytes === 2) {
    fields.writeUInt32BE(high, 6);
    fields.writeUInt16BE(low, 10);
  } else fields.writeUInt32BE(low, 8);
  return Buffer.from(fields.map((byte, i) => byte ^ salt[i]!));
}

function rtpHeaderLength(packet: Buffer): number {
  let length = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) length += 4 + 4 * packet.readUInt16BE(length + 2);
  return length;
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

/** The reference: one node:crypto cipher and HMAC per packet, as the RFCs write them. `roc` is the sender's rollover counter. */
const reference = {
  protectRtp(profile: ProfileName, keys: SessionKeys, packet: Buffer, roc: number): Buffer {
    const headerLength = rtpHeaderLength(packet);
    const header = packet.subarray(0, headerLength);
    const ssrc = packet.readUInt32BE(8);
    const sequence = packet.readUInt16BE(2);
    if (profile === 'AEAD_AES_128_GCM') {
      const cipher = createCipheriv('aes-128-gcm', keys.key, gcmIv(keys.salt, ssrc, roc, sequence, 2)).setAAD(header);
      const encrypted = Buffer.concat([cipher.update(packet.subarray(headerLength)), cipher.final()]);
      return Buffer.concat([header, encrypted, cipher.getAuthTag()]);
    }
    const encrypted = createCipheriv('aes-128-ctr', keys.key, aesCmIv(keys.salt, ssrc, roc * 65536 + sequence)).update(packet.subarray(headerLength));
    const authenticated = Buffer.concat([header, encrypted]);
    return Buffer.concat([authenticated, createHmac('sha1', keys.auth).update(authenticated).update(uint32(roc)).digest().subarray(0, 10)]);
  },
  unprotectRtp(profile: ProfileName, keys: SessionKeys, srtp: Buffer, roc: number): Buffer {
    const headerLength = rtpHeaderLength(srtp);
    const header = srtp.subarray(0, headerLength);
    const ssrc = srtp.readUInt32BE(8);
    const sequence = srtp.readUInt16BE(2);
    if (profile === 'AEAD_AES_128_GCM') {
      const decipher = createDecipheriv('aes-128-gcm', keys.key, gcmIv(keys.salt, ssrc, roc, sequence, 2)).setAAD(header).setAuthTag(srtp.subarray(-16));
      return Buffer.concat([header, decipher.update(srtp.subarray(headerLength, -16)), decipher.final()]);
    }
    const authenticated = srtp.subarray(0, -10);
    const tag = createHmac('sha1', keys.auth).update(authenticated).update(uint32(roc)).digest().subarray(0, 10);
    if (!tag.equals(srtp.subarray(-10))) throw new Error('reference: SRTP authentication failed');
    return Buffer.concat([header, createDecipheriv('aes-128-ctr', keys.key, aesCmIv(keys.salt, ssrc, roc * 65536 + sequence)).update(srtp.subarray(headerLength, -10))]);
  },
  /** AES-CM SRTCP (RFC 3711 3.4): encrypted after the first 8 bytes, then E flag and index, then the tag. */
  protectRtcp(keys: SessionKeys, packet: Buffer, index: number): Buffer {
    const encrypted = createCipheriv('aes-128-ctr', keys.key, aesCmIv(keys.salt, packet.readUInt32BE(4), index)).update(packet.subarray(8));
    const authenticated = Buffer.concat([packet.subarray(0, 8), encrypted, uint32((0x80000000 | index) >>> 0)]);
    return Buffer.concat([authenticated, createHmac('sha1', keys.auth).update(authenticated).digest().subarray(0, 10)]);
  },
  unprotectRtcp(keys: SessionKeys, srtcp: Buffer): Buffer {
    const authenticated = srtcp.subarray(0, -10);
    if (!createHmac('sha1', keys.auth).update(authenticated).digest().subarray(0, 10).equals(srtcp.subarray(-10))) throw new Error('reference: SRTCP authentication failed');
    const index = srtcp.readUInt32BE(srtcp.length - 14) & 0x7fffffff;
    return Buffer.concat([srtcp.subarray(0, 8), createDecipheriv('aes-128-ctr', keys.key, aesCmIv(keys.salt, srtcp.readUInt32BE(4), index)).update(srtcp.subarray(8, -14))]);
  },
};

interface PacketShape {
  payloadLength: number;
  csrcs?: number;
  /** One-byte header extension elements (RFC 8285), by length. */
  extensions?: number[];
  paddingLength?: number;
}

/** A plain RTP packet laid out as werift serializes one (extension elements packed, zero padding to a word). */
function rtpPacket(sequence: number, ssrc: number, shape: PacketShape): Buffer {
  const { payloadLength, csrcs = 0, extensions = [], paddingLength = 0 } = shape;
  const fixed = Buffer.alloc(12);
  fixed[0] = 0x80 | (paddingLength ? 0x20 : 0) | (extensions.length ? 0x10 : 0) | csrcs;
  fixed[1] = (randomInt(2) << 7) | 96;
  fixed.writeUInt16BE(sequence, 2);
  fixed.writeUInt32BE(randomInt(2 ** 32), 4);
  fixed.writeUInt32BE(ssrc, 8);
  const parts = [fixed, randomBytes(4 * csrcs)];
  if (extensions.length) {
    const elements = Buffer.concat(extensions.map((length, i) => Buffer.concat([Buffer.from([((i + 1) << 4) | (length - 1)]), randomBytes(length)])));
    const words = Math.ceil(elements.length / 4);
    const block = Buffer.alloc(4 + 4 * words);
    block.writeUInt16BE(0xbede, 0);
    block.writeUInt16BE(words, 2);
    elements.copy(block, 4);
    parts.push(block);
  }
  parts.push(randomBytes(payloadLength));
  if (paddingLength) {
    const padding = Buffer.alloc(paddingLength);
    padding[paddingLength - 1] = paddingLength;
    parts.push(padding);
  }
  return Buffer.concat(parts);
}

/** Payload sizes across AES block edges and up to a full video packet, and header shapes werift sees. */
function shapeFor(n: number): PacketShape {
  const edges = [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 1199, 1200, 1400];
  const payloadLength = edges[n] ?? randomInt(1401);
  switch (n % 4) {
    case 0:
      return { payloadLength };
    case 1:
      return { payloadLength, extensions: [1, 3, 2] };
    case 2:
      return { payloadLength, csrcs: 2, extensions: [16] };
    default:
      return { payloadLength, paddingLength: randomInt(1, 256) };
  }
}

const master = () => ({ key: randomBytes(16), salt: randomBytes(14) });

/** A werift sender and a werift receiver of the same master keys, and the reference's session keys for them. */
function sessions(profile: ProfileName) {
  const local = master();
  const other = master();
  const config = (mine: typeof local, theirs: typeof local) => ({
    keys: { localMasterKey: mine.key, localMasterSalt: mine.salt, remoteMasterKey: theirs.key, remoteMasterSalt: theirs.salt },
    profile: PROFILES[profile],
  });
  return {
    sender: new SrtpSession(config(local, other)),
    receiver: new SrtpSession(config(other, local)),
    rtcpSender: new SrtcpSession(config(local, other)),
    rtcpReceiver: new SrtcpSession(config(other, local)),
    rtp: sessionKeys(local.key, local.salt, false),
    rtcp: sessionKeys(local.key, local.salt, true),
  };
}

/** What werift's RTCRtpSender hands SRTP: the packet parsed into a header and a payload (padding left out). */
function protectWithWerift(sender: SrtpSession, packet: Buffer): Buffer {
  const { header, payload } = RtpPacket.deSerialize(packet);
  return sender.encrypt(payload, header);
}

function flipOneBit(packet: Buffer): Buffer {
  const tampered = Buffer.from(packet);
  tampered[randomInt(tampered.length)]! ^= 1 << randomInt(8);
  return tampered;
}

type AesCmCipher = {
  encryptRtp(header: RtpHeader, payload: Buffer, rolloverCounter: number): Buffer;
};

describe('werift SRTP (patched)', () => {
  it('derives the session keys of RFC 3711 B.3', () => {
    const { localContext } = new SrtpSession({
      keys: {
        localMasterKey: Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139', 'hex'),
        localMasterSalt: Buffer.from('0EC675AD498AFEEBB6960B3AABE6', 'hex'),
        remoteMasterKey: randomBytes(16),
        remoteMasterSalt: randomBytes(14),
      },
      profile: ProtectionProfileAes128CmHmacSha1_80,
    });
    expect(localContext.srtpSessionKey.toString('hex')).toBe('c61e7a93744f39ee10734afe3ff7a087');
    expect(localContext.srtpSessionSalt.toString('hex')).toBe('30cbbc08863d8c85d49db34a9ae1');
    expect(localContext.srtpSessionAuthTag.toString('hex')).toBe('cebe321f6ff7716b6fd4ab49af256a156d38baa4');
  });

  it('makes the AES-CM keystream of RFC 3711 B.2 from its long-lived cipher, past block 0xFF00', () => {
    const { cipher } = new SrtpSession({ keys: { localMasterKey: randomBytes(16), localMasterSalt: randomBytes(14), remoteMasterKey: randomBytes(16), remoteMasterSalt: randomBytes(14) }, profile: ProtectionProfileAes128CmHmacSha1_80 }).localContext;
    // The patch's mark: the cipher keeps its keystream generators (unpatched werift makes an AES-CTR cipher per packet).
    expect(cipher).toHaveProperty('srtpKeystream');
    expect(cipher).toHaveProperty('srtcpKeystream');
    const AesCm = cipher.constructor as new (...keys: Buffer[]) => AesCmCipher;
    const key = Buffer.from('2B7E151628AED2A6ABF7158809CF4F3C', 'hex');
    const salt = Buffer.from('F0F1F2F3F4F5F6F7F8F9FAFBFCFD', 'hex');
    const auth = randomBytes(20);
    const aesCm = new AesCm(key, salt, key, salt, auth, auth);
    // SSRC 0, ROC 0, SEQ 0: the counter is the salt shifted by 16 bits; encrypting zeros gives the keystream.
    const keystream = aesCm.encryptRtp(new RtpHeader({ ssrc: 0, sequenceNumber: 0 }), Buffer.alloc(0xff02 * 16), 0).subarray(12, 12 + 0xff02 * 16);
    const block = (index: number) => keystream.subarray(index * 16, index * 16 + 16).toString('hex').toUpperCase();
    expect(block(0)).toBe('E03EAD0935C95E80E166B16DD92B4EB4');
    expect(block(1)).toBe('D23513162B02D0F72A43A2FE4A5F97AB');
    expect(block(2)).toBe('41E95B3BB0A2E8DD477901E4FCA894C0');
    expect(block(0xfeff)).toBe('EC8CDF7398607CB0F2D21675EA9EA1E4');
    expect(block(0xff00)).toBe('362B7C3C6773516318A077D7FC5073AE');
    expect(block(0xff01)).toBe('6A2CC3787889374FBEB4C81B17BA6C44');
  });

  it('lets the RTP header serialize into the packet being protected', () => {
    expect(RtpHeader.prototype.serialize.length, 'serialize(size, target)').toBe(2);
  });

  it('parses the RTP header bit fields (version, P, X, CC, M, PT) of every first and second byte', () => {
    const packet = Buffer.alloc(12 + 15 * 4 + 4 + 255);
    packet[packet.length - 1] = 1;
    for (let first = 0; first < 256; first++) {
      for (const second of [0, 1, 96, 127, 128, 224, 255]) {
        packet[0] = first;
        packet[1] = second;
        const header = RtpHeader.deSerialize(packet);
        expect([header.version, header.padding, header.extension, header.csrcLength, header.marker, header.payloadType]).toEqual([
          first >> 6,
          (first & 0x20) !== 0,
          (first & 0x10) !== 0,
          first & 0x0f,
          second >= 128,
          second & 0x7f,
        ]);
      }
    }
  });

  for (const profile of Object.keys(PROFILES) as ProfileName[]) {
    describe(profile, () => {
      it('protects as the reference does, byte for byte, across the sequence-number rollover, and unprotects the reference', () => {
        const { sender, receiver, rtp } = sessions(profile);
        const ssrc = randomInt(2 ** 32);
        const first = 65536 - 300;
        for (let n = 0; n < 600; n++) {
          const index = first + n;
          const packet = rtpPacket(index & 0xffff, ssrc, shapeFor(n));
          const roc = Math.floor(index / 65536);
          const protectedByWerift = protectWithWerift(sender, packet);
          const protectedByReference = reference.protectRtp(profile, rtp, packet, roc);
          expect(protectedByWerift.equals(protectedByReference), `packet ${n} (seq ${index & 0xffff}, ROC ${roc}, ${packet.length} bytes)`).toBe(true);
          expect(reference.unprotectRtp(profile, rtp, protectedByWerift, roc).equals(packet)).toBe(true);
          expect(receiver.decrypt(protectedByReference).equals(packet), `packet ${n} unprotected by werift`).toBe(true);
        }
        expect(sender.localContext.getSrtpSsrcState(ssrc).rolloverCounter).toBe(1);
      });

      it('uses all 32 bits of a large rollover counter', () => {
        const { sender, receiver, rtp } = sessions(profile);
        const ssrc = randomInt(2 ** 32);
        const roc = 0x89abcdef;
        for (const context of [sender.localContext, receiver.remoteContext]) Object.assign(context.getSrtpSsrcState(ssrc), { rolloverCounter: roc, rolloverHasProcessed: true, lastSequenceNumber: 1000 });
        for (let n = 0; n < 20; n++) {
          const packet = rtpPacket(1001 + n, ssrc, shapeFor(n));
          const protectedByWerift = protectWithWerift(sender, packet);
          expect(protectedByWerift.equals(reference.protectRtp(profile, rtp, packet, roc))).toBe(true);
          expect(receiver.decrypt(protectedByWerift).equals(packet)).toBe(true);
        }
      });

      it('carries RTP padding: the P bit comes with its padding bytes', () => {
        const { sender, receiver } = sessions(profile);
        const packet = rtpPacket(7, 1234, { payloadLength: 100, paddingLength: 7 });
        const received = RtpPacket.deSerialize(receiver.decrypt(protectWithWerift(sender, packet)));
        expect(received.header.padding).toBe(true);
        expect(received.header.paddingSize).toBe(7);
        expect(received.payload.equals(packet.subarray(12, 112))).toBe(true);
      });

      it('rejects a packet with any bit flipped', () => {
        const { sender, receiver } = sessions(profile);
        for (let n = 0; n < 200; n++) {
          const packet = protectWithWerift(sender, rtpPacket(n + 1, 42, shapeFor(n)));
          expect(() => receiver.decrypt(flipOneBit(packet)), `packet ${n}`).toThrow(SrtpAuthenticationError);
        }
      });

      it('protects and unprotects SRTCP, up to the largest index', () => {
        const { rtcpSender, rtcpReceiver, rtcp } = sessions(profile);
        const ssrc = randomInt(2 ** 32);
        const packets = Array.from({ length: 60 }, (_, n) => {
          const words = n < 50 ? 2 + n : 2 + randomInt(350);
          const packet = randomBytes(4 * words);
          packet[0] = 0x81;
          packet[1] = 200;
          packet.writeUInt16BE(words - 1, 2);
          packet.writeUInt32BE(ssrc, 4);
          return packet;
        });
        for (const [n, packet] of packets.entries()) {
          if (n === 50) rtcpSender.localContext.getSrtcpSsrcState(ssrc).srtcpIndex = 0x7ffffff0;
          const protectedByWerift = rtcpSender.encrypt(packet);
          if (profile === 'AES_CM_128_HMAC_SHA1_80') {
            const index = n < 50 ? n + 1 : 0x7ffffff0 + n - 49;
            expect(protectedByWerift.equals(reference.protectRtcp(rtcp, packet, index)), `packet ${n}`).toBe(true);
            expect(reference.unprotectRtcp(rtcp, protectedByWerift).equals(packet)).toBe(true);
          }
          expect(rtcpReceiver.decrypt(protectedByWerift).equals(packet), `packet ${n} unprotected by werift`).toBe(true);
          expect(() => rtcpReceiver.decrypt(flipOneBit(protectedByWerift))).toThrow(SrtpAuthenticationError);
        }
      });
    });
  }
});

describe('werift SRTP (patched) on a live werift-to-werift call over loopback', () => {
  const peers: RTCPeerConnection[] = [];
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((peer) => peer.close()));
  });

  const newPeer = (): RTCPeerConnection => {
    const peer = new RTCPeerConnection({ iceServers: [], codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType: 96 })] } });
    peers.push(peer);
    return peer;
  };

  /** Only `profile` is offered and accepted (werift prefers GCM otherwise); set before DTLS starts. */
  const offerOnly = (peer: RTCPeerConnection, profile: ProfileName): void => {
    for (const transport of peer.dtlsTransports) (transport as unknown as { srtpProfiles: number[] }).srtpProfiles = [PROFILES[profile]];
  };

  /** Each payload starts with its number; what arrives is kept by number. */
  const collect = (peer: RTCPeerConnection): Map<number, Buffer> => {
    const received = new Map<number, Buffer>();
    peer.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => received.set(rtp.payload.readUInt32BE(0), Buffer.from(rtp.payload))));
    return received;
  };

  const rtcpTypes = (transport: RTCDtlsTransport): Set<number> => {
    const types = new Set<number>();
    transport.onRtcp.subscribe((packet) => types.add(packet.type));
    return types;
  };

  for (const profile of Object.keys(PROFILES) as ProfileName[]) {
    it(`carries RTP both ways, and RTCP sender reports, under ${profile}`, async () => {
      const offerer = newPeer();
      const answerer = newPeer();
      const offererTrack = new MediaStreamTrack({ kind: 'video' });
      offerer.addTransceiver(offererTrack, { direction: 'sendrecv' });
      const atOfferer = collect(offerer);
      const atAnswerer = collect(answerer);
      offerOnly(offerer, profile);
      await offerer.setLocalDescription(await offerer.createOffer());
      await answerer.setRemoteDescription(offerer.localDescription!);
      offerOnly(answerer, profile);
      const answererTrack = new MediaStreamTrack({ kind: 'video' });
      const [transceiver] = answerer.getTransceivers();
      transceiver!.setDirection('sendrecv');
      await transceiver!.sender.replaceTrack(answererTrack);
      await answerer.setLocalDescription(await answerer.createAnswer());
      await offerer.setRemoteDescription(answerer.localDescription!);
      await eventually(() => expect(offerer.connectionState).toBe('connected'), 20_000);
      await eventually(() => expect(answerer.connectionState).toBe('connected'), 20_000);
      const rtcpAtOfferer = rtcpTypes(offerer.dtlsTransports[0]!);

      for (const peer of [offerer, answerer]) {
        const { srtp } = peer.dtlsTransports[0]!;
        expect(srtp.localContext.profile, 'negotiated profile').toBe(PROFILES[profile]);
      }

      const count = 200;
      const sent = Array.from({ length: count }, (_, n) => {
        const payload = randomBytes(4 + randomInt(1200));
        payload.writeUInt32BE(n, 0);
        return payload;
      });
      for (const [n, payload] of sent.entries()) {
        for (const track of [offererTrack, answererTrack]) track.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: n, timestamp: n * 3000, payloadType: 96, marker: true }), payload));
        // Paced, so that loopback's socket buffers are not what is measured.
        if (n % 10 === 9) await sleep(5);
      }
      for (const received of [atOfferer, atAnswerer]) {
        // UDP may drop a few on a loaded machine; a broken SRTP delivers none.
        await eventually(() => expect(received.size).toBeGreaterThanOrEqual(count * 0.95), 10_000);
        for (const [n, payload] of received) expect(payload.equals(sent[n]!), `payload ${n}`).toBe(true);
      }
      // Sender reports (RTCP type 200) come every 0.5 to 1.5 s, through SRTCP.
      await eventually(() => expect(rtcpAtOfferer.has(200)).toBe(true), 10_000);
    }, 60_000);
  }
});
