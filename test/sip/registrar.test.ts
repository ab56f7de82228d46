import { describe, expect, it } from 'vitest';
import { parseNameAddr } from '../../src/sip/headers.js';
import { parseMessage, type SipRequest } from '../../src/sip/message.js';
import { Registrar } from '../../src/sip/registrar.js';
import { sameMediaSession } from '../../src/sip/sdp.js';

const JSSIP_CONTACT = '<sip:7m0v20bn@abc.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:7ef3e8d8-d168-40dc-a1ea-c5d20ba8caca>"';

function register(cseq: number, headers: string[], callId = 'call-1'): SipRequest {
  const message = parseMessage(
    [
      'REGISTER sip:example.com SIP/2.0',
      'Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bK1',
      'To: <sip:0000005@example.com>',
      'From: <sip:0000005@example.com>;tag=1',
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} REGISTER`,
      ...headers,
      '',
      '',
    ].join('\r\n'),
  );
  if (message.kind !== 'request') throw new Error('not a request');
  return message;
}

describe('the registrar', () => {
  const setup = () => {
    let clock = 0;
    const registrar = new Registrar({ minExpires: 60, maxExpires: 3600, defaultExpires: 3600, maxBindingsPerUser: 2, now: () => clock });
    return { registrar, advance: (ms: number) => (clock += ms) };
  };

  it('binds a Contact, echoes it with its expiry as JsSIP needs, and refreshes it', () => {
    const { registrar, advance } = setup();
    const outcome = registrar.register('0000005', 1, register(1, [`Contact: ${JSSIP_CONTACT};expires=600`]));
    expect(outcome).toEqual({ status: 200, contacts: [`${JSSIP_CONTACT};expires=600`] });
    advance(100_000);
    expect(registrar.register('0000005', 1, register(2, []))).toEqual({ status: 200, contacts: [`${JSSIP_CONTACT};expires=500`] });
    registrar.register('0000005', 1, register(3, ['Expires: 7200', `Contact: ${JSSIP_CONTACT}`]));
    expect(registrar.bindings('0000005')).toHaveLength(1);
    expect(registrar.bindings('0000005')[0]?.expiresAt).toBe(100_000 + 3_600_000);
    advance(3_600_000);
    expect(registrar.bindings('0000005')).toEqual([]);
  });

  it('removes a binding with expires=0, and all of them with Contact * and Expires: 0 only', () => {
    const { registrar } = setup();
    registrar.register('0000005', 1, register(1, ['Contact: <sip:a@x.invalid;transport=ws>', 'Contact: <sip:b@x.invalid;transport=ws>']));
    expect(registrar.size).toBe(2);
    registrar.register('0000005', 1, register(2, ['Contact: <sip:a@x.invalid;transport=ws>;expires=0']));
    expect(registrar.bindings('0000005').map((b) => b.contact.uri.user)).toEqual(['b']);
    expect(registrar.register('0000005', 1, register(3, ['Contact: *']))).toMatchObject({ status: 400 });
    expect(registrar.register('0000005', 1, register(3, ['Contact: *', 'Expires: 0']))).toEqual({ status: 200, contacts: [] });
    expect(registrar.size).toBe(0);
  });

  it('asks for a longer interval with 423 and Min-Expires', () => {
    const { registrar } = setup();
    expect(registrar.register('0000005', 1, register(1, [`Contact: ${JSSIP_CONTACT};expires=30`]))).toEqual({
      status: 423, reason: 'Interval Too Brief', minExpires: 60,
    });
    expect(registrar.register('0000005', 1, register(1, ['Expires: soon', `Contact: ${JSSIP_CONTACT}`]))).toMatchObject({ status: 400 });
  });

  it('refuses an older CSeq of the same Call-ID (RFC 3261 10.3 step 7) with 500', () => {
    const { registrar } = setup();
    registrar.register('0000005', 1, register(5, [`Contact: ${JSSIP_CONTACT}`]));
    expect(registrar.register('0000005', 1, register(4, [`Contact: ${JSSIP_CONTACT}`]))).toMatchObject({ status: 500 });
    expect(registrar.register('0000005', 1, register(4, [`Contact: ${JSSIP_CONTACT}`], 'another-call'))).toMatchObject({ status: 200 });
  });

  it('keys an outbound client by instance and reg-id, refuses a binding beyond the bound, and forgets a closed socket', () => {
    const { registrar } = setup();
    const contact = (user: string, instance: string) => `Contact: <sip:${user}@x.invalid;transport=ws>;reg-id=1;+sip.instance="<urn:uuid:${instance}>"`;
    registrar.register('0000005', 1, register(1, [contact('a', 'one')]));
    // The same instance after a reconnect: a new Contact URI replaces the old binding.
    registrar.register('0000005', 2, register(2, [contact('b', 'one')]));
    expect(registrar.bindings('0000005').map((b) => [b.contact.uri.user, b.flowId])).toEqual([['b', 2]]);
    registrar.register('0000005', 3, register(3, [contact('c', 'two')]));
    // A third instance is refused; the bindings there were stay, and can be refreshed or replaced.
    expect(registrar.register('0000005', 4, register(4, [contact('d', 'three')]))).toEqual({
      status: 403, reason: 'Too many registrations for this user (2)',
    });
    expect(registrar.register('0000005', 4, register(5, [contact('e', 'three'), contact('b', 'one').replace(/$/, ';expires=0')]))).toMatchObject({ status: 200 });
    expect(registrar.bindings('0000005').map((b) => b.contact.uri.user)).toEqual(['c', 'e']);
    registrar.dropFlow(3);
    expect(registrar.bindings('0000005').map((b) => b.contact.uri.user)).toEqual(['e']);
    registrar.dropUser('0000005');
    expect(registrar.size).toBe(0);
  });

  it('keeps the Contact parameters it echoes', () => {
    const { registrar } = setup();
    const outcome = registrar.register('0000005', 1, register(1, [`Contact: ${JSSIP_CONTACT}`]));
    const echoed = parseNameAddr(outcome.status === 200 ? (outcome.contacts[0] ?? '') : '');
    expect(echoed.params.get('+sip.instance')).toBe('"<urn:uuid:7ef3e8d8-d168-40dc-a1ea-c5d20ba8caca>"');
    expect(echoed.params.get('reg-id')).toBe('1');
  });
});

describe('re-offers', () => {
  const offer = [
    'v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=candidate:1 1 udp 1 10.0.0.1 5000 typ host', 'a=ice-ufrag:u1', 'a=ice-pwd:p1',
    'a=fingerprint:sha-256 AA', 'a=setup:actpass', 'a=mid:0', 'a=sendrecv', 'a=rtpmap:111 opus/48000/2', 'a=ssrc:1 cname:x',
    '',
  ].join('\r\n');

  it('are the same session when only the version, candidates, ports, setup or SSRCs changed', () => {
    const refresh = offer
      .replace('o=- 1 1', 'o=- 1 2')
      .replace('m=audio 9', 'm=audio 5000')
      .replace('10.0.0.1 5000', '10.0.0.2 6000')
      .replace('setup:actpass', 'setup:active')
      .replace('ssrc:1', 'ssrc:2');
    expect(sameMediaSession(offer, refresh)).toBe(true);
  });

  it('are a different session on hold, ICE restart, a new codec or a rejected stream', () => {
    for (const change of [
      offer.replace('a=sendrecv', 'a=sendonly'),
      offer.replace('ice-ufrag:u1', 'ice-ufrag:u2'),
      offer.replace('SAVPF 111', 'SAVPF 111 0').replace('opus/48000/2', 'opus/48000/2\r\na=rtpmap:0 PCMU/8000'),
      offer.replace('m=audio 9', 'm=audio 0'),
    ]) {
      expect(sameMediaSession(offer, change)).toBe(false);
    }
  });
});
