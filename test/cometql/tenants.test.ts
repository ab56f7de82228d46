import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, runPhp, startTestServer, type TestServer } from '../helpers/server.js';
import { fromAddress } from './fromAddress.js';

const SECRET5 = 'tenant-five-secret';

/** Logins that must fail come from addresses of their own, so the login throttle never holds back the others. */
let nextAddress = 10;
const fromElsewhere = (server: TestServer) => fromAddress(server, `127.0.0.${nextAddress++}`);

const rowsOf = async (client: mysql.Connection, sql: string): Promise<unknown> => (await client.query(sql))[0];

/** The reply to COM_STATISTICS, which mysql2 cannot send: written on its socket, after which the client is done. */
async function statisticsOf(client: mysql.Connection): Promise<string> {
  const socket = (client as unknown as { connection: { stream: Socket } }).connection.stream;
  socket.removeAllListeners('data');
  let received = Buffer.alloc(0);
  const reply = new Promise<Buffer>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const length = received.length >= 4 ? received.readUIntLE(0, 3) : Infinity;
      if (received.length >= 4 + length) resolve(received.subarray(4, 4 + length));
    }),
  );
  socket.write(Buffer.from([1, 0, 0, 0, 0x09]));
  const payload = await reply;
  client.destroy();
  return payload.toString('utf8');
}

describe('tenants: a dev_id with a password of its own', () => {
  let server: TestServer;
  let root: mysql.Connection;
  beforeAll(async () => {
    server = await startTestServer();
    root = await connect(server);
    await root.query(`INSERT INTO tenants (dev_id, password) VALUES (5, '${SECRET5}')`);
  });
  afterAll(async () => {
    await root.end();
    await server.close();
  });

  it('logs in only with its own password, no longer with the main one', async () => {
    await expect(connect(server, { user: '5', ...fromElsewhere(server) })).rejects.toMatchObject({ errno: 16, message: 'Authentication failure' });
    const tenant = await connect(server, { user: '5', password: SECRET5 });
    await tenant.end();
    // Root's password stays the main one, and a tenant's password opens no other dev_id.
    await expect(connect(server, { user: 'root', password: SECRET5, ...fromElsewhere(server) })).rejects.toMatchObject({ errno: 16 });
    await expect(connect(server, { user: '6', password: SECRET5, ...fromElsewhere(server) })).rejects.toMatchObject({ errno: 16 });
  });

  it("reaches only its own data: another db_N, by USE, the handshake or a table prefix, is denied", async () => {
    await root.query("INSERT INTO users_auth (id, hash) VALUES (1, 'rootKeyOfOne')");
    const tenant = await connect(server, { user: '5', password: SECRET5, database: undefined });
    try {
      await tenant.query("INSERT INTO users_auth (id, hash) VALUES (1, 'fiveKeyOfOne')");
      for (const sql of ['USE db_0', 'SELECT * FROM db_0.users_auth WHERE id = 1', "REPLACE INTO db_0.users_auth (id, hash) VALUES (1, 'stolen')"]) {
        await expect(tenant.query(sql), sql).rejects.toMatchObject({ errno: 403, message: expect.stringMatching(/^Access denied to database db_0/) });
      }
      await expect(tenant.query('SELECT * FROM tenants')).rejects.toMatchObject({ errno: 403 });
      // The connection goes on, on its own data, which its own db_5 also names.
      expect(await rowsOf(tenant, 'SELECT id, hash FROM users_auth WHERE id = 1')).toEqual([{ id: '1', hash: 'fiveKeyOfOne' }]);
      expect(await rowsOf(tenant, 'SELECT id, hash FROM db_5.users_auth WHERE id = 1')).toEqual([{ id: '1', hash: 'fiveKeyOfOne' }]);
      await tenant.query('USE db_5');
      expect(await rowsOf(tenant, 'SHOW TABLES')).not.toContainEqual({ Tables: 'tenants' });
      // Its status counts its own rooms, not every tenant's.
      expect(await rowsOf(tenant, "SHOW STATUS LIKE '%_all'")).toEqual([]);
      expect(await rowsOf(root, "SHOW STATUS LIKE 'invitations_all'")).toEqual([{ Variable_name: 'invitations_all', Value: '0' }]);
    } finally {
      await tenant.end();
    }
    await expect(connect(server, { user: '5', password: SECRET5, database: 'db_0' })).rejects.toMatchObject({ errno: 403 });
    expect(await rowsOf(root, 'SELECT id, hash FROM users_auth WHERE id = 1')).toEqual([{ id: '1', hash: 'rootKeyOfOne' }]);
  });

  it("sees its own status, not the server's connections and queries, which are every tenant's", async () => {
    const names = async (client: mysql.Connection) => ((await rowsOf(client, 'SHOW STATUS')) as { Variable_name: string }[]).map((row) => row.Variable_name);
    const tenant = await connect(server, { user: '5', password: SECRET5 });
    expect(await names(tenant)).toEqual(['Uptime', 'dev_id', 'conferences', 'members']);
    expect(await names(root)).toEqual(expect.arrayContaining(['Threads_connected', 'Questions']));
    expect(await statisticsOf(tenant)).toMatch(/^Uptime: \d+$/);
    expect(await statisticsOf(await connect(server))).toMatch(/^Uptime: \d+ {2}Threads: \d+ {2}Questions: \d+$/);
  });

  it('is reached by root through db_5.table, which acts on tenant 5 instead of being ignored', async () => {
    await root.query("INSERT INTO db_5.users_auth (id, hash) VALUES (2, 'fiveKeyOfTwo')");
    expect(await rowsOf(root, 'SELECT id FROM users_auth WHERE id = 2')).toEqual([]);
    const tenant = await connect(server, { user: '5', password: SECRET5 });
    try {
      expect(await rowsOf(tenant, 'SELECT id, hash FROM users_auth WHERE id = 2')).toEqual([{ id: '2', hash: 'fiveKeyOfTwo' }]);
    } finally {
      await tenant.end();
    }
    await expect(root.query('SELECT * FROM nowhere.users_auth WHERE id = 2')).rejects.toMatchObject({ errno: 15 });
  });

  it('leaves tenants without a password as CppComet had them: the main password, and root reach', async () => {
    const tenant7 = await connect(server, { user: '7', database: 'db_0' });
    try {
      expect(await rowsOf(tenant7, 'SELECT id, hash FROM users_auth WHERE id = 1')).toEqual([{ id: '1', hash: 'rootKeyOfOne' }]);
    } finally {
      await tenant7.end();
    }
  });

  it('shows root the tenants but never their passwords, which can change and go', async () => {
    await root.query("INSERT INTO tenants (dev_id, password) VALUES (8, 'tenant-eight-secret')");
    expect(await rowsOf(root, 'SELECT * FROM tenants')).toEqual([
      { dev_id: '5', password: null },
      { dev_id: '8', password: null },
    ]);
    expect(await rowsOf(root, `SELECT dev_id FROM tenants WHERE password = '${SECRET5}'`)).toEqual([]);

    expect((await root.query("UPDATE tenants SET password = 'tenant-eight-renewed' WHERE dev_id = 8"))[0]).toMatchObject({ affectedRows: 1 });
    await expect(connect(server, { user: '8', password: 'tenant-eight-secret', ...fromElsewhere(server) })).rejects.toMatchObject({ errno: 16 });
    await (await connect(server, { user: '8', password: 'tenant-eight-renewed' })).end();

    expect((await root.query('DELETE FROM tenants WHERE dev_id = 8'))[0]).toMatchObject({ affectedRows: 1 });
    await (await connect(server, { user: '8' })).end();
    expect(await rowsOf(root, 'SELECT dev_id FROM tenants')).toEqual([{ dev_id: '5' }]);
  });

  it('refuses root, unknown dev_ids and short passwords with clear errors', async () => {
    const cases: [string, number, string][] = [
      ["INSERT INTO tenants (dev_id, password) VALUES (0, 'long-enough-password')", 12, 'dev_id 0 is root: its password is [main] password'],
      ["INSERT INTO tenants (dev_id, password) VALUES (100000, 'long-enough-password')", 12, 'The dev_id field must be below 100000 ([main] dev_index_size)'],
      ["INSERT INTO tenants (dev_id, password) VALUES (9, 'short')", 12, 'The password field must have at least 8 characters'],
      ['INSERT INTO tenants (dev_id) VALUES (9)', 12, 'field `password` is required'],
      ["UPDATE tenants SET password = 'long-enough-password'", 13, 'Updating without transferring the requested values of the primary key is not supported'],
    ];
    for (const [sql, errno, message] of cases) await expect(root.query(sql), sql).rejects.toMatchObject({ errno, message });
  });

  it('works for a PHP backend logging in as its tenant', async () => {
    const php = `<?php
      mysqli_report(MYSQLI_REPORT_OFF);
      $link = mysqli_connect('127.0.0.1', '5', '${SECRET5}', 'CometQL_v1', (int)getenv('COMETQL_PORT'));
      $rows = mysqli_fetch_all(mysqli_query($link, 'SELECT id, hash FROM users_auth WHERE id = 2'), MYSQLI_ASSOC);
      $denied = mysqli_query($link, 'USE db_0');
      echo json_encode(['rows' => $rows, 'denied' => $denied === false ? mysqli_errno($link) : 0]), "\\n";`;
    const dir = mkdtempSync(join(tmpdir(), 'cometmcu-tenant-php-'));
    try {
      writeFileSync(join(dir, 'tenant.php'), php);
      const { stdout } = await runPhp(join(dir, 'tenant.php'), [], server);
      expect(JSON.parse(stdout)).toEqual({ rows: [{ id: '2', hash: 'fiveKeyOfTwo' }], denied: 403 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
