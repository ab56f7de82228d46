import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql, { type Connection } from 'mysql2/promise';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { parseMessage, type SipResponse } from '../../src/sip/message.js';
import { connect, PASSWORD, rawHttp, startTestServer, type TestServer } from '../helpers/server.js';
import { TestCa, type IssuedCertificate } from '../helpers/testCa.js';
import { authorization, sipRequest, token } from '../sip/rawClient.js';

/**
 * [ws] tls_cert and tls_key: the HTTP port serves HTTPS and WSS only (pages, libraries, /info, /metrics, the
 * comet WebSocket, SIP over WebSocket), invitations name wss://, and SIGHUP swaps the certificate for new
 * connections while open ones go on. Certificates come from a CA made for the run with Debian's openssl.
 */

// Globals of the functions that run inside the page (this file itself runs in Node, without the DOM types).
declare const document: any;
declare const location: any;

const ca = TestCa.create();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A GET with the test CA trusted (or only the system's), on a connection of its own (no TLS session reused). */
function getHttps(port: number, path: string, trustTestCa = true): Promise<{ status: number; body: string; certificate: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const request = httpsGet({ host: '127.0.0.1', servername: 'localhost', port, path, ca: trustTestCa ? ca.ca : undefined, agent: false }, (response) => {
      const certificate = (response.socket as TLSSocket).getPeerCertificate();
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, certificate }));
    });
    request.on('error', reject);
  });
}

/** The certificate a new TLS connection is shown, checked against the CA. */
function servedCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', servername: 'localhost', port, ca: ca.ca }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** A comet WebSocket over wss:// that records its frames. */
async function cometOverWss(port: number, userId: number, key: string): Promise<{ ws: WebSocket; next(event: string, timeoutMs?: number): Promise<Record<string, any>> }> {
  const ws = new WebSocket(`wss://localhost:${port}/ws/sesion=${key}&myid=${userId}&devid=0&v=4.08&uuid=${'b'.repeat(32)}&api=js`, { ca: ca.ca });
  const frames: Record<string, any>[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Record<string, any>));
  await once(ws, 'open');
  return {
    ws,
    async next(event, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = frames.findIndex((frame) => frame.event === event);
        if (index >= 0) return frames.splice(index, 1)[0]!;
        if (Date.now() > deadline) throw new Error(`no ${event} frame; got ${JSON.stringify(frames).slice(0, 300)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

const sqlUsers = async (sql: Connection): Promise<void> => {
  for (const [id, hash] of [[1, 'key1'], [2, 'key2'], [3, 'key3']] as const) await sql.query('INSERT INTO users_auth (id, hash) VALUES (?, ?)', [id, hash]);
};

afterAll(() => ca.remove());

describe('HTTPS and WSS on the HTTP port', () => {
  const certificate = ca.issue('cometmcu tls test');
  const dataDir = ca.path('data');
  let server: TestServer;
  let sql: Connection;

  beforeAll(async () => {
    server = await startTestServer({ COMET_WS_TLS_CERT: certificate.certFile, COMET_WS_TLS_KEY: certificate.keyFile, COMET_BROADCAST_DATA_DIR: dataDir });
    sql = await connect(server);
    await sqlUsers(sql);
  });
  afterAll(async () => {
    await sql?.end();
    await server?.close();
  });

  it('serves everything over https to a client that trusts the CA, nothing over plain http', async () => {
    expect(server.secure).toBe(true);
    const info = await getHttps(server.httpPort, '/info');
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body)).toMatchObject({ status: 'ok' });
    expect(info.certificate.serialNumber).toBe(certificate.serial);
    expect(info.certificate.subject.CN).toBe('cometmcu tls test');
    // A broadcast's HLS and DASH as the mixer leaves them when its room ends (served for [broadcast] keep_after_end).
    const room = join(dataDir, 'hls', '0', 'tlsroom');
    mkdirSync(room, { recursive: true });
    writeFileSync(join(room, 'index.m3u8'), '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-ENDLIST\n');
    writeFileSync(join(room, 'index.mpd'), '<?xml version="1.0"?><MPD type="static"></MPD>\n');
    const paths = ['/cometVideoApi.js', '/CometServerApi.js', '/examples/index.html', '/vendor/hls.min.js', '/metrics', '/hls/0/tlsroom/index.m3u8', '/hls/0/tlsroom/index.mpd'];
    const answers = await Promise.all(paths.map((path) => getHttps(server.httpPort, path)));
    expect(answers.map((answer) => answer.status)).toEqual(paths.map(() => 200));
    expect(answers[5]!.body).toContain('#EXT-X-ENDLIST');
    expect(answers[6]!.body).toContain('<MPD');

    // A client without the CA refuses the certificate; a plain HTTP request gets no HTTP answer at all.
    await expect(getHttps(server.httpPort, '/info', false)).rejects.toThrow(/certificate/i);
    const plain = await rawHttp(server, 'GET /info HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(plain).not.toMatch(/^HTTP\//);
    expect(plain).not.toContain('"status"');
  });

  it('serves the comet WebSocket over wss://, and the invitation names wss:// and this port', async () => {
    const comet = await cometOverWss(server.httpPort, 1, 'key1');
    expect(await comet.next('serverInfo')).toMatchObject({ authorized: true, data: 'key1' });
    await sql.query("INSERT INTO conference (name, user_id, caller_id, message) VALUES ('secure', 1, 2, 'hello')");
    const invitation = await comet.next('sys_sipCall');
    expect(invitation.data.sys).toMatchObject({ serverName: 'localhost', serverPort: server.httpPort, sipUrl: `wss://localhost:${server.httpPort}/sip` });
    comet.ws.close();
  });

  it('serves SIP over wss:// (/sip): a REGISTER is challenged, then accepted with the key', async () => {
    const ws = new WebSocket(`wss://localhost:${server.httpPort}/sip`, 'sip', { ca: ca.ca });
    await once(ws, 'open');
    const response = async (text: string): Promise<SipResponse> => {
      const reply = once(ws, 'message');
      ws.send(text);
      return parseMessage(String((await reply)[0])) as SipResponse;
    };
    const request = {
      method: 'REGISTER',
      uri: 'sip:localhost',
      toUri: 'sip:0000002@localhost',
      callId: token(),
      fromUser: '0000002',
      fromTag: token(),
    };
    const contact = 'Contact: <sip:tls0test@abc.invalid;transport=ws>;expires=600';
    const challenge = await response(sipRequest({ ...request, cseq: 1, headers: [contact] }));
    expect(challenge.status).toBe(401);
    const accepted = await response(sipRequest({ ...request, cseq: 2, headers: [authorization(challenge, '0000002', 'key2', 'REGISTER', 'sip:localhost'), contact] }));
    expect(accepted.status).toBe(200);
    ws.close();
  });

  // Chromium trusts no CA file given on its command line; it does trust a public key named by
  // --ignore-certificate-errors-spki-list (a test CA in its NSS store would need libnss3-tools' certutil).
  it('a Chromium page on https logs in over wss://, hears the invitation and joins the call over SIP on wss://', async () => {
    const launch = (spki?: string) =>
      chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: [
          '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
          '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
          '--disable-features=WebRtcHideLocalIpsWithMdns', ...(spki ? [`--ignore-certificate-errors-spki-list=${spki}`] : []),
        ],
      });
    const url = `https://localhost:${server.httpPort}/examples/index.html?user_id=3&user_key=key3`;
    // Without the key named, the certificate of an unknown CA stops the page: the browser checks it.
    const untrusting = await launch();
    try {
      await expect((await untrusting.newPage({ ignoreHTTPSErrors: false })).goto(url)).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await untrusting.close();
    }
    const browser = await launch(certificate.spkiSha256);
    try {
      const page = await browser.newPage({ ignoreHTTPSErrors: false });
      await page.goto(url);
      expect(await page.evaluate(() => location.protocol)).toBe('https:');
      await page.click('#start');
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'Logged in; waiting for a call.', undefined, { timeout: 15_000 });
      await sql.query("INSERT INTO conference (name, user_id, caller_id, message) VALUES ('browser', 3, 1, 'hi')");
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'Incoming call.', undefined, { timeout: 15_000 });
      await page.click('#answer_video');
      await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('In the conference'), undefined, { timeout: 20_000 });
      expect((await server.model.findMembers(0, { rooms: ['browser'] })).map((member) => member.userId)).toEqual([3]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

interface LogLine {
  msg: string;
  level: number;
  http?: string;
  cometql?: string;
  serial?: string;
}

/** src/main.ts in a process of its own, as `npm start` runs it, with its JSON log lines. */
class ServerProcess {
  private output = '';
  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk));
  }

  static start(env: Record<string, string>): ServerProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, COMET_COMETQL_PORT: '0', COMET_WS_PORT: '0', COMET_WS_IP: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServerProcess(child);
  }

  get text(): string {
    return this.output;
  }

  lines(): LogLine[] {
    return this.output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
  }

  async waitFor(msg: string, count = 1, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines().filter((line) => line.msg.startsWith(msg));
      if (found.length >= count) return found[count - 1]!;
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`no "${msg}" (${count}) in: ${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async exit(): Promise<number> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const [code] = (await once(this.child, 'exit')) as [number];
    return code;
  }
}

describe('the certificate on SIGHUP, in the server process', () => {
  const [first, second, third] = ['cometmcu first', 'cometmcu second', 'cometmcu third'].map((name) => ca.issue(name)) as [IssuedCertificate, IssuedCertificate, IssuedCertificate];
  // Where the operator's renewal writes (certbot's live/ folder): the server is given these paths only.
  const live = { cert: ca.path('live-cert.pem'), key: ca.path('live-key.pem') };
  const install = (cert: IssuedCertificate, key: IssuedCertificate = cert): void => {
    copyFileSync(cert.certFile, live.cert);
    copyFileSync(key.keyFile, live.key);
  };
  let server: ServerProcess;
  let port: number;
  let sql: Connection;

  beforeAll(async () => {
    install(first);
    server = ServerProcess.start({ COMET_WS_TLS_CERT: live.cert, COMET_WS_TLS_KEY: live.key });
    const started = await server.waitFor('cometmcu started');
    port = Number(started.http!.split(':')[1]);
    sql = await mysql.createConnection({ host: '127.0.0.1', port: Number(started.cometql!.split(':')[1]), user: 'root', password: PASSWORD, database: 'CometQL_v1' });
    await sqlUsers(sql);
  }, 60_000);
  afterAll(async () => {
    await sql?.end();
    server?.child.kill('SIGTERM');
    if (server) expect(await server.exit()).toBe(0);
  });

  it('serves a renewed certificate to new connections, and open WSS connections go on', async () => {
    expect((await servedCertificate(port)).serialNumber).toBe(first.serial);
    const before = await cometOverWss(port, 1, 'key1');
    expect(await before.next('serverInfo')).toMatchObject({ authorized: true });

    install(second);
    server.child.kill('SIGHUP');
    expect(await server.waitFor('TLS certificate reloaded')).toMatchObject({ serial: second.serial });
    const after = await servedCertificate(port);
    expect([after.serialNumber, after.subject.CN]).toEqual([second.serial, 'cometmcu second']);
    expect((await getHttps(port, '/info')).status).toBe(200);

    // The socket opened under the first certificate still carries an invitation made now.
    expect(before.ws.readyState).toBe(WebSocket.OPEN);
    await sql.query("INSERT INTO conference (name, user_id, caller_id, message) VALUES ('renewed', 1, 2, 'still here')");
    expect((await before.next('sys_sipCall')).data).toMatchObject({ message: 'still here', sys: { sipUrl: `wss://localhost:${port}/sip` } });
    before.ws.close();
  });

  it('keeps the certificate it has when the new key is broken or is not the certificate’s, and goes on serving', async () => {
    const served = (await servedCertificate(port)).serialNumber;
    const open = await cometOverWss(port, 2, 'key2');
    await open.next('serverInfo');

    writeFileSync(live.key, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    server.child.kill('SIGHUP');
    await server.waitFor('TLS certificate not reloaded', 1);
    install(third, second);
    server.child.kill('SIGHUP');
    const mismatch = await server.waitFor('TLS certificate not reloaded', 2);
    expect(mismatch.msg).toContain(live.key);
    expect(mismatch.level).toBe(50);

    expect(server.child.exitCode).toBeNull();
    expect((await servedCertificate(port)).serialNumber).toBe(served);
    expect((await getHttps(port, '/info')).status).toBe(200);
    expect(open.ws.readyState).toBe(WebSocket.OPEN);
    open.ws.close();
    // Errors name the files; no key material reaches the log.
    expect(server.text).not.toContain('PRIVATE KEY');
    expect(server.text).not.toContain('bm90IGEga2V5');
  });
});

describe('a start with TLS files it cannot use', () => {
  it('fails with one line naming the file that cannot be read', async () => {
    const missing = ca.path('missing-cert.pem');
    const key = ca.issue('cometmcu unused').keyFile;
    const server = ServerProcess.start({ COMET_WS_TLS_CERT: missing, COMET_WS_TLS_KEY: key });
    expect(await server.exit()).toBe(1);
    expect(server.text).toBe(`cometmcu: cannot read [ws] tls_cert file ${missing}: ENOENT: no such file or directory\n`);
  });

  it('fails naming both files when the key is not the certificate’s, without the key', async () => {
    const [mine, other] = [ca.issue('cometmcu mine'), ca.issue('cometmcu other')];
    const server = ServerProcess.start({ COMET_WS_TLS_CERT: mine.certFile, COMET_WS_TLS_KEY: other.keyFile });
    expect(await server.exit()).toBe(1);
    expect(server.text).toMatch(new RegExp(`^cometmcu: \\[ws\\] tls_cert ${mine.certFile} and tls_key ${other.keyFile} are not a usable certificate and key: .*mismatch.*\\n$`));
    expect(server.text).not.toContain('PRIVATE KEY');
  });
});
