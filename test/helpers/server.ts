import { execFile } from 'node:child_process';
import { connect as tcpConnect, createServer } from 'node:net';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { loadConfig, type Config } from '../../src/config.js';
import type { MediaEngine } from '../../src/conference/media.js';
import { internalErrorCounts, internalErrorTotal } from '../../src/faults.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';

export const PASSWORD = 'CometQLPassword';

export interface TestServer extends RunningServer {
  config: Config;
}

/**
 * A real server in this process on free loopback ports, logging nothing; SIP is served when `media` is given.
 * Its close() fails when an error boundary reported an internal error meanwhile, so no test hides one.
 */
export async function startTestServer(env: Record<string, string> = {}, media?: MediaEngine): Promise<TestServer> {
  const config = loadConfig({
    env: { COMET_COMETQL_PORT: '0', COMET_WS_PORT: '0', COMET_WS_IP: '127.0.0.1', COMET_MAIN_LOG_LEVEL: 'silent', ...env },
  });
  const errorsBefore = internalErrorTotal();
  const server = await startServer(config, createLogger(config.main.log_level), undefined, media);
  const close = server.close;
  return Object.assign(server, {
    config,
    async close() {
      await close();
      const errors = internalErrorTotal() - errorsBefore;
      if (errors > 0) throw new Error(`${errors} internal error(s) while this test server ran, by boundary so far: ${JSON.stringify(Object.fromEntries(internalErrorCounts()))}`);
    },
  });
}

/** A server whose mixer answers on loopback only, with these profiles; broadcasts write under `dataDir`. */
export function startMediaServer(profilesFile: string, dataDir: string, env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer({
    COMET_CONFERENCE_PROFILES: profilesFile,
    COMET_BROADCAST_DATA_DIR: dataDir,
    COMET_MEDIA_ADDRESSES: '127.0.0.1',
    COMET_MEDIA_ADDRESSES_ONLY: 'true',
    ...env,
  });
}

export function connect(server: TestServer, options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: server.cometqlPort,
    user: 'root',
    password: PASSWORD,
    database: 'CometQL_v1',
    ...options,
  });
}

const exec = promisify(execFile);

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

/** Runs a PHP file with the real php-cli and mysqli; resolves even when PHP exits non-zero. */
export async function runPhp(file: string, args: string[], server: TestServer, env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec('php', [file, ...args], {
      env: { ...process.env, COMETQL_PORT: String(server.cometqlPort), ...env },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Runs the real `mariadb` command-line client in batch mode. */
export async function runMariadbCli(server: TestServer, sql: string, extra: string[] = []) {
  const { stdout } = await exec(
    'mariadb',
    ['-h', '127.0.0.1', '-P', String(server.cometqlPort), '-u', 'root', `-p${PASSWORD}`, ...extra, 'CometQL_v1', '-e', sql],
    { timeout: 20_000 },
  );
  return stdout;
}

/**
 * Sends raw bytes to the HTTP port, as a hostile client would, and resolves with what came back before the
 * server closed the connection or `patienceMs` passed (then this side closes it).
 */
export function rawHttp(server: TestServer, request: string | Buffer, patienceMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = tcpConnect(server.httpPort, '127.0.0.1');
    const received: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(received).toString('latin1'));
    };
    const timer = setTimeout(done, patienceMs);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', done);
    socket.on('close', done);
    socket.end(request);
  });
}
