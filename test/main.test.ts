import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './helpers/server.js';

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return { child, output: () => output };
}

describe('the server process', () => {
  it('starts on embedded defaults, logs JSON, and stops cleanly on SIGTERM', async () => {
    const [cometqlPort, wsPort] = [await freePort(), await freePort()];
    const { child, output } = startMain({ COMET_COMETQL_PORT: String(cometqlPort), COMET_WS_PORT: String(wsPort), COMET_WS_IP: '127.0.0.1' });
    const deadline = Date.now() + 20_000;
    while (!output().includes('cometmcu started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const client = await mysql.createConnection({ host: '127.0.0.1', port: cometqlPort, user: 'root', password: 'CometQLPassword' });
    expect((await client.query('SELECT 1 AS one'))[0]).toEqual([{ one: '1' }]);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    await client.end().catch(() => undefined);
    expect(code).toBe(0);
    const lines = output().trim().split('\n').map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.map((line) => line.msg)).toEqual(['cometmcu started', 'shutting down', 'cometmcu stopped']);
    expect(output()).not.toContain('CometQLPassword');
  });

  it('refuses to expose CometQL with the shipped password', async () => {
    const { child, output } = startMain({ COMET_COMETQL_IP: '0.0.0.0', COMET_COMETQL_PORT: String(await freePort()) });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toContain('refusing to start: CometQL would listen on 0.0.0.0 with the shipped default password');
  });

  it('stops at once with one line when its MySQL store does not answer, without the store password', async () => {
    const { child, output } = startMain({
      COMET_COMETQL_PORT: String(await freePort()),
      COMET_WS_PORT: String(await freePort()),
      COMET_STORE_MYSQL_HOST: '127.0.0.1',
      COMET_STORE_MYSQL_PORT: String(await freePort()),
      COMET_STORE_MYSQL_PASSWORD: 'store-secret',
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toMatch(/^cometmcu: cannot open the MySQL store cometmcu@127\.0\.0\.1:\d+\/cometmcu: connect ECONNREFUSED \S+\n$/);
    expect(output()).not.toContain('store-secret');
  });

  it('logs and counts an exception and a rejection nothing caught, and goes on serving', async () => {
    // The server as main.ts runs it, then a bug of ours that escapes every boundary: a throw out of a
    // timer, and a promise whose rejection nobody awaits.
    const src = join(import.meta.dirname, '..', 'src');
    const script = `
      import { loadConfig } from '${src}/config.ts';
      import { createLogger } from '${src}/log.ts';
      import { reportProcessErrors } from '${src}/processErrors.ts';
      import { startServer } from '${src}/server.ts';
      const config = loadConfig({ env: { COMET_COMETQL_PORT: '0', COMET_WS_PORT: '0', COMET_WS_IP: '127.0.0.1' } });
      const log = createLogger('info');
      const server = await startServer(config, log);
      reportProcessErrors(log);
      setTimeout(() => { throw new Error('escaped a timer'); });
      void Promise.reject(new Error('nobody awaited this'));
      process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    const lines = () => output.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; http?: string; boundary?: string; err?: { message: string } });
    const deadline = Date.now() + 20_000;
    while (lines().filter((line) => line.boundary === 'process').length < 2 && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const http = `http://${lines().find((line) => line.msg === 'cometmcu started')!.http}`;
    expect((await fetch(`${http}/info`)).status).toBe(200);
    expect(await (await fetch(`${http}/metrics`)).text()).toContain('cometmcu_internal_errors_total{boundary="process"} 2');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const escaped = lines().filter((line) => line.msg === 'internal error');
    expect(escaped.map((line) => [line.boundary, line.err?.message]).sort()).toEqual([
      ['process', 'escaped a timer'],
      ['process', 'nobody awaited this'],
    ]);
  });
});
