import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, SHIPPED_CONF_DIR } from '../src/config.js';
import { loadProfiles } from '../src/profiles.js';
import { isLoopbackAddress } from '../src/net.js';
import { iceServers } from '../src/server.js';

const writeConf = (text: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'cometmcu-conf-'));
  const file = join(dir, 'comet.ini');
  writeFileSync(file, text);
  return file;
};

describe('configuration', () => {
  it('ships conf/comet.ini with the documented defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config.cometql).toMatchObject({ ip: '127.0.0.1', port: 3300 });
    expect(config.ws).toMatchObject({ ip: '0.0.0.0', port: 8087 });
    expect(config.main.password).toBe('CometQLPassword');
  });

  it('reads [store] from the file and COMET_STORE_* (memory when mysql_host is empty)', () => {
    expect(loadConfig({ env: {} }).store.mysql_host).toBe('');
    const file = writeConf('[store]\nmysql_host = db.internal\nmysql_user = app\n');
    const config = loadConfig({ file, env: { COMET_STORE_MYSQL_PASSWORD: 'secret', COMET_STORE_MYSQL_PORT: '3307' } });
    expect(config.store).toEqual({
      mysql_host: 'db.internal',
      mysql_port: 3307,
      mysql_user: 'app',
      mysql_password: 'secret',
      mysql_database: 'cometmcu',
      mysql_connections: 10,
    });
    expect(() => loadConfig({ env: { COMET_STORE_MYSQL_CONNECTIONS: '0' } })).toThrow(ConfigError);
  });

  it('lets COMET_<SECTION>_<KEY> override the file', () => {
    const file = writeConf('[cometql]\nport = 3307\n[main]\npassword = fromfile\n');
    const config = loadConfig({ file, env: { COMET_COMETQL_PORT: '4000', COMET_SIP_PIPESALT: 'salt' } });
    expect(config.cometql.port).toBe(4000);
    expect(config.main.password).toBe('fromfile');
    expect(config.sip.pipesalt).toBe('salt');
  });

  it('reports bad values and unknown keys with their place', () => {
    expect(() => loadConfig({ env: { COMET_WS_PORT: 'eighty' } })).toThrow('COMET_WS_PORT: expected an integer from 0 to 65535, got "eighty"');
    const file = writeConf('[cometql]\nprot = 3300\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(`${file}: unknown key "prot" in section [cometql]`);
    expect(() => loadConfig({ file: writeConf('[nope]\na=1\n'), env: {} })).toThrow('unknown section [nope]');
  });

  it('refuses a public CometQL address with the shipped password', () => {
    expect(() => loadConfig({ env: { COMET_COMETQL_IP: '0.0.0.0' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { COMET_COMETQL_IP: '0.0.0.0' } })).toThrow(/shipped default password/);
    expect(loadConfig({ env: { COMET_COMETQL_IP: '0.0.0.0', COMET_MAIN_PASSWORD: 'long-random-secret' } }).cometql.ip).toBe('0.0.0.0');
    expect(loadConfig({ env: { COMET_COMETQL_IP: '127.0.0.2' } }).cometql.ip).toBe('127.0.0.2');
  });

  it('checks the media port range', () => {
    expect(loadConfig({ env: { COMET_MEDIA_PORT_MIN: '40000', COMET_MEDIA_PORT_MAX: '40999' } }).media.port_max).toBe(40999);
    expect(() => loadConfig({ env: { COMET_MEDIA_PORT_MIN: '40000' } })).toThrow('[media] port_min and port_max');
  });

  it('reads STUN/TURN servers, with the credentials on TURN URLs', () => {
    const config = loadConfig({
      env: { COMET_MEDIA_ICE_SERVERS: 'stun:stun.example.org:3478, turn:turn.example.org:3478?transport=udp', COMET_MEDIA_ICE_USERNAME: 'u', COMET_MEDIA_ICE_CREDENTIAL: 'p' },
    });
    expect(iceServers(config)).toEqual([
      { urls: 'stun:stun.example.org:3478' },
      { urls: 'turn:turn.example.org:3478?transport=udp', username: 'u', credential: 'p' },
    ]);
  });

  it('ships a valid docker configuration whose video rooms broadcast', () => {
    const config = loadConfig({ file: join(SHIPPED_CONF_DIR, '..', 'docker', 'comet.ini'), env: { COMET_MAIN_PASSWORD: 'a-real-secret' } });
    expect(config.cometql.ip).toBe('0.0.0.0');
    const video = loadProfiles(join(config.baseDir, config.conference.profiles)).get('video')!;
    expect(video.broadcast).toMatchObject({ rtmp: 'rtmp://nginx-rtmp:1935/live/${dev_id}-${conference_name}', llHls: true });
    expect(() => loadConfig({ file: join(SHIPPED_CONF_DIR, '..', 'docker', 'comet.ini'), env: {} })).toThrow(/shipped default password/);
  });

  it('knows loopback addresses', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackAddress(address)).toBe(true);
    for (const address of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com']) expect(isLoopbackAddress(address)).toBe(false);
  });

  it('loads profiles and rejects incomplete ones', () => {
    const profiles = loadProfiles(join(loadConfig({ env: {} }).baseDir, 'profiles.ini'));
    expect(profiles.get('video')).toMatchObject({ media: 'video', canvas: { width: 1280, height: 720 }, codec: 'VP8', layout: 'grid' });
    expect(profiles.get('audio')?.media).toBe('audio');
    const file = writeConf('[p]\nmedia = video\n');
    expect(() => loadProfiles(file)).toThrow(`${file} [p]: missing key "canvas"`);
  });
});
