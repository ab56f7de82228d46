import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The longest the event loop was held while `work` ran, in ms. Server and client share this process: that
 * includes mysql2 sending the query, a few ms. The bounds below are generous for a loaded 2-core machine;
 * what they catch took seconds (a 140,000-value IN list held the loop 2.6 s).
 */
async function longestStallDuring(work: () => Promise<unknown>): Promise<number> {
  const delays = monitorEventLoopDelay({ resolution: 5 });
  delays.enable();
  try {
    // The sampling timer counts a stall from its second tick on, and only when it next runs after it.
    await sleep(20);
    await work();
    await sleep(20);
  } finally {
    delays.disable();
  }
  return delays.max / 1e6;
}

const STALL_BOUND_MS = 500;

const ints = (count: number, from = 1): string => Array.from({ length: count }, (_, i) => i + from).join(',');

describe('CometQL per-query bounds', () => {
  let server: TestServer;
  let client: mysql.Connection;
  beforeAll(async () => {
    server = await startTestServer();
    client = await connect(server, { multipleStatements: true });
  });
  afterAll(async () => {
    await client.end();
    await server.close();
  });

  const stillServes = async (): Promise<void> => {
    expect((await client.query('SELECT 1 AS one'))[0]).toEqual([{ one: '1' }]);
  };

  it('refuses an IN list of 140,000 integers at once, without holding the event loop', async () => {
    let refusal: unknown;
    const stall = await longestStallDuring(() => client.query(`SELECT * FROM users_auth WHERE id IN (${ints(140_000)})`).catch((error) => (refusal = error)));
    expect(refusal).toMatchObject({ errno: 11, message: expect.stringMatching(/^Query too long: more than \d+ tokens$/) });
    expect(stall).toBeLessThan(STALL_BOUND_MS);
    await stillServes();
  });

  it('serves an IN list and an INSERT of max_list_values values, and refuses one value more', async () => {
    const limit = server.config.cometql.max_list_values;
    await expect(client.query(`SELECT * FROM users_auth WHERE id IN (${ints(limit + 1)})`)).rejects.toMatchObject({
      errno: 11,
      message: `Too many values in an IN list: at most ${limit} ([cometql] max_list_values)`,
    });
    expect((await client.query(`SELECT id FROM users_auth WHERE id IN (${ints(limit)})`))[0]).toEqual([]);

    const rows = (count: number) => Array.from({ length: count }, (_, i) => `(${i + 1}, 'key${i + 1}')`).join(',');
    await expect(client.query(`INSERT INTO users_auth (id, hash) VALUES ${rows(limit / 2 + 1)}`)).rejects.toMatchObject({
      errno: 11,
      message: `Too many values in one INSERT: at most ${limit} ([cometql] max_list_values)`,
    });
    expect((await client.query('SELECT id FROM users_auth WHERE id = 1'))[0]).toEqual([]);
    expect((await client.query(`INSERT INTO users_auth (id, hash) VALUES ${rows(limit / 2)}`))[0]).toMatchObject({ affectedRows: limit / 2 });
    // A value named twice is one row, not two.
    expect((await client.query('SELECT id FROM users_auth WHERE id IN (7, 7, 7)'))[0]).toEqual([{ id: '7' }]);
  });

  it('refuses too many statements, deep parentheses and long expressions before parsing them', async () => {
    await expect(client.query('SELECT 1;'.repeat(1001))).rejects.toMatchObject({ errno: 11, message: 'Too many statements in one query: at most 1000' });
    const tooComplex = { errno: 11, message: expect.stringMatching(/^Statement too complex/) };
    const stall = await longestStallDuring(async () => {
      await expect(client.query(`SELECT * FROM users_auth WHERE ${'('.repeat(33)}id = 1${')'.repeat(33)}`)).rejects.toMatchObject(tooComplex);
      const conditions = Array.from({ length: 2000 }, (_, i) => `c${i} = ${i}`);
      await expect(client.query(`SELECT * FROM users_auth WHERE ${conditions.join(' AND ')}`)).rejects.toMatchObject(tooComplex);
      await expect(client.query(`SELECT * FROM users_auth WHERE ${conditions.join(' OR ')}`)).rejects.toMatchObject(tooComplex);
      await expect(client.query(`SELECT ${'1,'.repeat(20_000)}1`)).rejects.toMatchObject(tooComplex);
    });
    expect(stall).toBeLessThan(STALL_BOUND_MS);
    await stillServes();
  });

  it('parses the statements of a query a few at a time, letting timers run between them', async () => {
    // Distinct shapes defeat the shape cache: parsed at once, these hold the event loop well over a second.
    const columns = ['name', 'user_id', 'audio', 'video', 'deaf', 'talking', 'layout', 'watch'];
    const shapes = Array.from(
      { length: 1000 },
      (_, i) => `SELECT ${columns.map((column) => `${column} AS ${column}${i}`).join(', ')} FROM conference_members WHERE name = 'r${i}' AND user_id = ${i}`,
    );
    let results: unknown[] = [];
    const stall = await longestStallDuring(async () => {
      [results] = (await client.query(shapes.join(';'))) as unknown as [unknown[]];
    });
    expect(results).toHaveLength(1000);
    expect(stall).toBeLessThan(STALL_BOUND_MS);
  });

  it('matches SHOW … LIKE patterns in linear time, where a regular expression would backtrack for ever', async () => {
    let found: unknown;
    const stall = await longestStallDuring(async () => {
      // As a regular expression (.*..*, seven times) this took seconds: 14 times, a minute and a half.
      [found] = await client.query(`SHOW VARIABLES LIKE '${'%_%'.repeat(7)}Q'`);
    });
    expect(found).toEqual([]);
    expect(stall).toBeLessThan(STALL_BOUND_MS);
    expect((await client.query("SHOW VARIABLES LIKE 'LOWER\\_case%'"))[0]).toEqual([{ Variable_name: 'lower_case_table_names', Value: '0' }]);
  });

  it('holds back the replies of a client that reads nothing instead of piling them up in memory', async () => {
    const data = 'd'.repeat(60_000);
    for (let id = 1; id <= 100; id += 10) {
      await client.query(Array.from({ length: 10 }, (_, i) => `INSERT INTO users_data (id, data) VALUES (${id + i}, '${data}')`).join(';'));
    }
    // 30 results of 100 rows of 60 kB: 180 MB if encoded at once.
    const statements = 30;
    const slow = await connect(server, { multipleStatements: true });
    const stream = (slow as unknown as { connection: { stream: Socket } }).connection.stream;
    stream.pause();
    const before = process.memoryUsage().arrayBuffers;
    const results = slow.query(`SELECT id, data FROM users_data WHERE id IN (${ints(100)});`.repeat(statements));
    let grown = 0;
    for (const started = performance.now(); performance.now() - started < 3000 && grown < 64 << 20; await sleep(100)) {
      grown = Math.max(grown, process.memoryUsage().arrayBuffers - before);
    }
    expect(grown).toBeLessThan(64 << 20);
    stream.resume();
    const [sets] = (await results) as unknown as [unknown[][]];
    expect(sets.map((rows) => rows.length)).toEqual(Array(statements).fill(100));
    await slow.end();
  }, 30_000);

  it('lets timers run during a long INSERT, and a long SELECT of it costs its rows, not rooms times users', async () => {
    const count = 3333;
    const invitations = Array.from({ length: count }, (_, i) => `('r${i}', ${i + 1}, 'm')`).join(',');
    expect(await longestStallDuring(() => client.query(`INSERT INTO conference (name, user_id, message) VALUES ${invitations}`))).toBeLessThan(STALL_BOUND_MS);

    const rooms = Array.from({ length: 10_000 }, (_, i) => `'r${i}'`).join(',');
    let found: unknown[] = [];
    const stall = await longestStallDuring(async () => {
      [found] = (await client.query(`SELECT user_id FROM conference WHERE name IN (${rooms}) AND user_id IN (${ints(10_000)})`)) as unknown as [unknown[]];
    });
    expect(found).toHaveLength(count);
    expect(stall).toBeLessThan(STALL_BOUND_MS);
  }, 30_000);
});
