import { describe, expect, it } from 'vitest';
import { parseCometUrl } from '../../src/gateway/url.js';

describe('the comet WebSocket URL', () => {
  it("reads CppComet's URL", () => {
    expect(parseCometUrl('/ws/sesion=abc&myid=7&devid=15&v=4.08&uuid=0123456789abcdef0123456789abcdef&api=js')).toEqual({
      sessionKey: 'abc',
      userId: 7,
      devId: 15,
      version: '4.08',
      uuid: '0123456789abcdef0123456789abcdef',
      api: 'js',
    });
  });

  it('reads parameters by name in any order, also as a query string', () => {
    expect(parseCometUrl('/ws/?devid=2&myid=3&sesion=k')).toMatchObject({ sessionKey: 'k', userId: 3, devId: 2 });
    expect(parseCometUrl('/comet-server/ws/api=js&uuid=u&v=4&devid=1&myid=9&sesion=s%3D')).toMatchObject({ sessionKey: 's=', userId: 9, devId: 1 });
  });

  it('falls back to positions for misspelt names, as CppComet read them', () => {
    expect(parseCometUrl('/ws/session_key=abc&my=7&dev=15')).toMatchObject({ sessionKey: 'abc', userId: 7, devId: 15 });
  });

  it('refuses other paths and bad numbers', () => {
    expect(parseCometUrl('/sip')).toBeUndefined();
    expect(parseCometUrl('/ws/sesion=a&myid=-1&devid=0')).toBeUndefined();
    expect(parseCometUrl('/ws/sesion=a&myid=x&devid=0')).toBeUndefined();
  });
});
