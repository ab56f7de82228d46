/**
 * Guesses sent all at once: frames that reach the server in one TCP packet are handed over together, and
 * each must still be judged after the failures before it, or a burst guesses at full speed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { authorization, RawSipClient, sipRequest, token } from './rawClient.js';
import { startSipServer } from './servers.js';
import { WeriftMedia } from './weriftMedia.js';

describe('a burst of SIP digests in one packet', () => {
  const media = new WeriftMedia();
  const http = new HttpServer(createLogger('silent'));
  let port: number;

  beforeAll(async () => {
    const started = await startSipServer(http, media, { maxSocketsPerUser: 8, maxRegistrationsPerUser: 8 });
    port = started.port;
    await started.model.setKey({ devId: 0, userId: 1, hash: 'RightKey' });
  });
  afterAll(async () => {
    await http.close();
    await media.close();
  });

  it('is judged guess by guess: past the free failures even the right key is refused unchecked', async () => {
    const user = '0000001';
    const client = await RawSipClient.connect(port);
    try {
      const base = { method: 'REGISTER', uri: 'sip:localhost', toUri: `sip:${user}@localhost`, callId: token(), fromUser: user, fromTag: token(), headers: ['Contact: <sip:a@x.invalid;transport=ws>'] };
      client.send(sipRequest({ ...base, cseq: 1 }));
      const challenge = await client.final(base.callId, 1, 'REGISTER');
      const guesses = 30;
      const frames = Array.from({ length: guesses }, (_, i) => {
        const password = i === guesses - 1 ? 'RightKey' : `guess${i}`;
        const nonceCount = (i + 1).toString(16).padStart(8, '0');
        return sipRequest({ ...base, cseq: 2 + i, headers: [authorization(challenge, user, password, 'REGISTER', 'sip:localhost', nonceCount), ...base.headers] });
      });
      // One write: the frames arrive together.
      const socket = (client.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
      socket.cork();
      for (const frame of frames) client.send(frame);
      socket.uncork();
      const answers: string[] = [];
      for (let i = 0; i < guesses; i++) {
        const answer = await client.final(base.callId, 2 + i, 'REGISTER');
        answers.push(`${answer.status} ${answer.reason}`);
      }
      expect(answers.filter((answer) => answer === '403 Forbidden')).toHaveLength(4);
      expect(answers.slice(4)).toEqual(Array(guesses - 4).fill('403 Too many failed logins'));
    } finally {
      await client.close();
    }
  });
});
