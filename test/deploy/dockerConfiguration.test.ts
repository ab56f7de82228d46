import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { loadConfig, SHIPPED_CONF_DIR } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { MariaDB } from '../helpers/mariadb.js';
import { Nginx } from '../helpers/nginx.js';
import { freePort, PASSWORD } from '../helpers/server.js';
import { BrowserFleet, CANVAS, eventually, FPS } from '../mixer/harness.js';
import { decode, expectBothMembers, expectBothMembersInHls, saveNewestLowLatencySegment } from '../mixer/mediaFiles.js';

/**
 * What `docker compose -f docker/compose.yaml up` runs, without Docker (no engine on these machines): the
 * server on docker/comet.ini and docker/profiles.ini with the compose file's environment, Debian's nginx on
 * docker/nginx.conf and a MariaDB for its store. Only what a container has and a test must not is changed:
 * loopback addresses and free ports for fixed ones, temporary folders for /tmp and /data, and the compose
 * host name `nginx-rtmp` in the profile's push URL. A room of the shipped `video` profile must then be
 * watchable at every URL the compose file's header promises, and its keys must be in the database.
 */

const exec = promisify(execFile);
const DOCKER_DIR = join(SHIPPED_CONF_DIR, '..', 'docker');
const dir = mkdtempSync(join(tmpdir(), 'cometmcu-docker-'));

/** The compose file's environment for the cometmcu service, with the variables it reads set. */
function composeEnvironment(): Record<string, string> {
  const compose = readFileSync(join(DOCKER_DIR, 'compose.yaml'), 'utf8');
  const service = compose.slice(compose.indexOf('  cometmcu:'), compose.indexOf('\n  mariadb:'));
  const block = service.slice(service.indexOf('    environment:\n') + '    environment:\n'.length, service.indexOf('\n    ports:'));
  const env: Record<string, string> = {};
  for (const line of block.split('\n')) {
    const match = /^ {6}(COMET_[A-Z_]+): "?(.*?)"?$/.exec(line);
    if (!match) throw new Error(`unexpected line in the compose environment: ${line}`);
    // ${NAME:-default}: the default, as compose gives it when the variable is unset.
    env[match[1]!] = match[2]!.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
  }
  return env;
}

describe('the docker configuration, run with Debian packages', () => {
  let mariadb: MariaDB;
  let nginx: Nginx;
  let server: RunningServer;
  const fleet = new BrowserFleet(0, CANVAS, FPS);

  beforeAll(async () => {
    mariadb = await MariaDB.create();
    nginx = Nginx.fromDockerConf(join(dir, 'nginx'), join(DOCKER_DIR, 'nginx.conf'), await freePort(), await freePort());
    await nginx.start();
    const profiles = join(dir, 'profiles.ini');
    const shipped = readFileSync(join(DOCKER_DIR, 'profiles.ini'), 'utf8');
    expect(shipped).toContain('rtmp://nginx-rtmp:1935/');
    writeFileSync(profiles, shipped.replace('rtmp://nginx-rtmp:1935/', `rtmp://127.0.0.1:${nginx.rtmpPort}/`));

    const compose = composeEnvironment();
    expect(compose).toMatchObject({ COMET_STORE_MYSQL_HOST: 'mariadb', COMET_STORE_MYSQL_DATABASE: 'cometmcu' });
    const config = loadConfig({
      file: join(DOCKER_DIR, 'comet.ini'),
      env: {
        ...compose,
        ...mariadb.storeEnv,
        COMET_MAIN_PASSWORD: PASSWORD,
        COMET_MAIN_LOG_LEVEL: 'silent',
        COMET_COMETQL_IP: '127.0.0.1',
        COMET_COMETQL_PORT: '0',
        COMET_WS_IP: '127.0.0.1',
        COMET_WS_PORT: '0',
        COMET_MEDIA_ADDRESSES_ONLY: 'true',
        COMET_BROADCAST_DATA_DIR: join(dir, 'data'),
        COMET_CONFERENCE_PROFILES: profiles,
      },
    });
    server = await startServer(config, createLogger('silent'));
  }, 60_000);

  const cometql = () => mysql.createConnection({ host: '127.0.0.1', port: server.cometqlPort, user: 'root', password: PASSWORD, database: 'CometQL_v1' });

  afterAll(async () => {
    await fleet.close();
    await server?.close();
    await nginx?.stop();
    await mariadb?.destroy();
  });

  it('is a compose file that compose accepts (Debian docker-compose 1.29 validates it without an engine)', async () => {
    const { stdout } = await exec('docker-compose', ['-f', join(DOCKER_DIR, 'compose.yaml'), 'config', '--services'], { env: { ...process.env, COMET_MAIN_PASSWORD: 'a-real-secret' } });
    expect(stdout.trim().split('\n').sort()).toEqual(['cometmcu', 'mariadb', 'nginx-rtmp']);
  });

  it('keeps the keys CometQL writes in MariaDB', async () => {
    const client = await cometql();
    await client.query("INSERT INTO users_auth (id, hash) VALUES (1, 'keyOfOne'), (2, 'keyOfTwo')");
    await client.end();
    // In MariaDB itself, where a restarted container finds them.
    const direct = await mysql.createConnection(mariadb.account);
    const [rows] = await direct.query<mysql.RowDataPacket[]>('SELECT user_id, hash FROM users_auth ORDER BY user_id');
    await direct.end();
    expect(rows.map((row) => [row.user_id, row.hash])).toEqual([[1, 'keyOfOne'], [2, 'keyOfTwo']]);
  });

  it('broadcasts a room of the video profile to nginx-rtmp (HLS and DASH on its HTTP port) and as LL-HLS', async () => {
    // The shipped video profile is not open: its members are invited, as a web backend would.
    const client = await cometql();
    await client.query("INSERT INTO conference (name, user_id, caller_id, message, profile) VALUES ('101', 1, 2, 'hi', 'video'), ('101', 2, 1, 'hi', 'video')");
    await client.end();
    const world = { model: server.model, mixer: server.mixer! };
    await fleet.join(world, { userId: 1, colour: 'red', tone: 400, volume: 0.3, room: '101', profile: 'video' });
    await fleet.join(world, { userId: 2, colour: 'blue', tone: 600, volume: 0.3, room: '101', profile: 'video' });
    const nginxHttp = `http://127.0.0.1:${nginx.httpPort}`;
    // The URLs of the compose file's header: nginx's HLS and DASH, the server's own (low-latency) HLS.
    await expectBothMembersInHls(`${nginxHttp}/hls/0-101.m3u8`);
    await eventually(async () => {
      const manifest = await fetch(`${nginxHttp}/dash/0-101.mpd`);
      expect(manifest.status).toBe(200);
      expect(await manifest.text()).toContain('<SegmentTemplate');
    }, 15_000);
    const file = join(dir, 'll-hls.mp4');
    await eventually(async () => {
      expect(await saveNewestLowLatencySegment(`http://127.0.0.1:${server.httpPort}/hls/0/101`, file)).toContain('#EXT-X-PART-INF');
      expectBothMembers(await decode(file));
    }, 20_000);
  }, 90_000);
});
