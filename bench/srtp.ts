import { randomBytes } from 'node:crypto';
import { ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80, RtpHeader, SrtpSession } from 'werift';
import { printTable, writeResult } from './lib.js';

/**
 * werift's SRTP cost per packet (issue #11): protect and unprotect of a 1100-byte RTP packet (12-byte
 * header, 1088-byte payload) under both profiles werift negotiates, as patches/werift+0.24.4.patch leaves
 * them. CPU time of this process, the best of a few rounds, so that other load on the machine counts least.
 */

const PACKETS = Number(process.env.BENCH_PACKETS ?? 100_000);
const ROUNDS = 5;
const PAYLOAD = randomBytes(1100 - 12);
const PROFILES = { AES_CM_128_HMAC_SHA1_80: ProtectionProfileAes128CmHmacSha1_80, AEAD_AES_128_GCM: ProtectionProfileAeadAes128Gcm };

function cpuMicrosecondsPerCall(calls: number, run: (n: number) => void): number {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.cpuUsage();
    for (let n = 0; n < calls; n++) run(n);
    const { user, system } = process.cpuUsage(start);
    best = Math.min(best, (user + system) / calls);
  }
  return best;
}

function measure(profile: number): { protect_us: number; unprotect_us: number } {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const keys = { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt };
  const header = new RtpHeader({ ssrc: 0x1234_5678, payloadType: 96 });
  const sender = new SrtpSession({ keys, profile });
  // The sequence number runs on through rollovers, as a long call's does.
  const protect_us = cpuMicrosecondsPerCall(PACKETS, (n) => {
    header.sequenceNumber = n & 0xffff;
    sender.encrypt(PAYLOAD, header);
  });
  // A window of protected packets replayed in order; the receiver's ROC never moves (no sequence number 0 in it).
  const window = Array.from({ length: 1000 }, (_, n) => {
    header.sequenceNumber = n + 1;
    return new SrtpSession({ keys, profile }).encrypt(PAYLOAD, header);
  });
  const receiver = new SrtpSession({ keys, profile });
  const unprotect_us = cpuMicrosecondsPerCall(PACKETS, (n) => receiver.decrypt(window[n % window.length]!));
  return { protect_us: Number(protect_us.toFixed(2)), unprotect_us: Number(unprotect_us.toFixed(2)) };
}

const results = Object.fromEntries(Object.entries(PROFILES).map(([name, profile]) => [name, measure(profile)]));
printTable(
  ['profile', 'protect µs/packet', 'unprotect µs/packet'],
  Object.entries(results).map(([name, { protect_us, unprotect_us }]) => [name, protect_us, unprotect_us]),
);
console.log(`written to ${writeResult('srtp', { packet_bytes: 1100, packets: PACKETS, node: process.version, profiles: results })}`);
