import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * patches/werift+0.24.4.patch (applied by `npm install`'s postinstall) hardens werift's DTLS and ICE against
 * unauthenticated datagrams; hostileDatagrams.test.ts shows what it does. This says at once when it is not
 * in the werift that runs, in either of its builds (an upgrade, or an install that skipped the patch).
 */
const PATCHED = {
  alertDecrypted: "cometmcu: an alert after the handshake counts only if it decrypts under the epoch's keys",
  onlyCloseNotifyCloses: 'cometmcu: of the warnings, only close_notify ends the session',
  unknownRecordDiscarded: 'cometmcu: an unknown record type is discarded',
  plaintextDroppedAfterHandshake: 'cometmcu: once the handshake is done, a plaintext (epoch 0) record can come from anyone',
  checkAuthenticatedFirst: 'cometmcu: a check is authenticated before it acts',
  noIntegrityOnUnauthenticated: 'cometmcu: an answer to a request that did not authenticate carries no MESSAGE-INTEGRITY',
};

/**
 * The per-packet cost of SRTP and RTP headers (weriftSrtp.test.ts checks what they do). Only in the ES module
 * build, the one the server loads; the CommonJS build keeps werift's own.
 */
const PATCHED_ESM_ONLY = {
  longLivedAesCmCipher: 'cometmcu: AES-CM keystream from one long-lived AES-ECB cipher per session key',
  srtpWrittenOnce: 'cometmcu: SRTP packets are written once, into the buffer that is sent',
  gcmWrittenOnce: 'cometmcu: each RTP packet is written once, into the buffer that is sent',
  headerSerializedInPlace: 'cometmcu: SRTP serializes the header straight into the packet it sends',
  headerBitsByMasks: 'cometmcu: header bits by masks',
};

/**
 * ICE with browsers' defaults (browserDefaults.test.ts checks what it does): an offer of mDNS .local candidates
 * only connects through peer-reflexive candidates, and nothing is looked up that is not configured. Only in
 * the ES module build, the one the server loads.
 */
const ICE_PATCHED_ESM_ONLY = {
  noDefaultStunServer: 'cometmcu: no STUN server unless one is configured',
  noDefaultIceServers: 'cometmcu: no ICE servers unless configured',
  namedCandidatesNotLookedUp: 'cometmcu: a candidate whose address is a name (mDNS .local, RFC 8839 5.1) is dropped, never looked up',
  emptyCheckListWaitsForChecks: 'cometmcu: an empty check list is no failure',
};

// The CommonJS entry is lib/webrtc/src/index.js; the packages it is built from sit beside webrtc/.
const lib = dirname(dirname(dirname(createRequire(import.meta.url).resolve('werift'))));

describe('the werift patch', () => {
  it('is in the ES module build that `import "werift"` loads', () => {
    const { exports } = JSON.parse(readFileSync(join(lib, '..', 'package.json'), 'utf8')) as { exports: { '.': { import: string } } };
    const bundle = readFileSync(join(lib, '..', exports['.'].import), 'utf8');
    for (const [change, marker] of Object.entries({ ...PATCHED, ...PATCHED_ESM_ONLY, ...ICE_PATCHED_ESM_ONLY })) expect(bundle.includes(marker), change).toBe(true);
  });

  it('is in the CommonJS build that `require("werift")` loads', () => {
    const sources = ['dtls/src/record/receive.js', 'dtls/src/socket.js', 'ice/src/ice.js'].map((file) => readFileSync(join(lib, file), 'utf8')).join('\n');
    for (const [change, marker] of Object.entries(PATCHED)) expect(sources.includes(marker), change).toBe(true);
  });
});
