import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { MariaDB, type MariaDBAccount } from '../test/helpers/mariadb.js';
import { cpuSeconds, freePort, percentile, printTable, ROOT, startProcess, stopProcess, writeResult } from './lib.js';

/**
 * CometQL vs MariaDB: 16 concurrent connections of one mysql2 client run the same mix of INSERT (upsert),
 * SELECT and DELETE on `conference` and `users_auth` against our server and against MariaDB with
 * equivalent MEMORY tables, one after the other in the same run, alternating, so machine noise hits both.
 */

const CONNECTIONS = 16;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = 2;
const ROUNDS = 2;

interface Measurement {
  qps: number;
  p50_ms: number;
  p99_ms: number;
  server_cpu_ms_per_1000_queries: number;
}

/** The mix: a web backend inviting users, listing rooms, withdrawing invitations, rotating keys. */
function nextQuery(random: () => number): string {
  const room = `room${Math.floor(random() * 200)}`;
  const user = 1 + Math.floor(random() * 50);
  const pick = random();
  if (pick < 0.25) {
    return `REPLACE INTO conference (name, user_id, caller_id, message, profile) VALUES ('${room}', ${user}, 1, '{\\"text\\":\\"hi\\"}', 'video')`;
  }
  if (pick < 0.5) return `SELECT * FROM conference WHERE name = '${room}'`;
  if (pick < 0.6) return `DELETE FROM conference WHERE name = '${room}' AND user_id = ${user}`;
  if (pick < 0.75) return `REPLACE INTO users_auth (id, hash) VALUES (${user}, 'h${Math.floor(random() * 1e9)}')`;
  if (pick < 0.95) return `SELECT * FROM users_auth WHERE id = ${user}`;
  return `DELETE FROM users_auth WHERE id = ${user}`;
}

/** Deterministic, so both servers get the same query sequence. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) & 0x7fff_ffff;
    return state / 0x8000_0000;
  };
}

async function load(options: mysql.ConnectionOptions, serverPid: number): Promise<Measurement> {
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => mysql.createConnection(options)));
  const latencies: number[] = [];
  let measuring = false;
  let stop = false;
  let queries = 0;
  const workers = clients.map(async (client, index) => {
    const random = seededRandom(index + 1);
    while (!stop) {
      const sql = nextQuery(random);
      const start = process.hrtime.bigint();
      await client.query(sql);
      if (measuring) {
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        queries++;
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, WARMUP_SECONDS * 1000));
  measuring = true;
  const cpuBefore = cpuSeconds(serverPid);
  const startedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  measuring = false;
  const elapsed = (performance.now() - startedAt) / 1000;
  const cpu = cpuSeconds(serverPid) - cpuBefore;
  stop = true;
  await Promise.all(workers);
  await Promise.all(clients.map((client) => client.end()));
  latencies.sort((a, b) => a - b);
  return {
    qps: Math.round(queries / elapsed),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    server_cpu_ms_per_1000_queries: round((cpu * 1000 * 1000) / queries),
  };
}

const round = (value: number): number => Math.round(value * 1000) / 1000;

async function withCometQL<T>(run: (port: number, pid: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const child = await startProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
    env: { ...process.env, COMET_COMETQL_PORT: String(port), COMET_WS_PORT: '0', COMET_WS_IP: '127.0.0.1', COMET_MAIN_LOG_LEVEL: 'info' },
    ready: /cometmcu started/,
  });
  try {
    return await run(port, child.pid!);
  } finally {
    await stopProcess(child);
  }
}

/** A private MariaDB (the tests' helper) with the two tables as MEMORY tables, for as long as `run` runs. */
async function withMariaDB<T>(run: (account: MariaDBAccount, pid: number) => Promise<T>): Promise<T> {
  const server = await MariaDB.create();
  try {
    const admin = await mysql.createConnection({ ...server.account, multipleStatements: true });
    // latin1, MariaDB's own default: MEMORY rows are fixed-width, and utf8mb4's four bytes a character
    // would overflow the table (16 MiB) before the run has written every (room, user) pair.
    await admin.query(`
      CREATE TABLE conference (name VARCHAR(64) NOT NULL, user_id INT NOT NULL, caller_id INT NOT NULL DEFAULT 0,
        message VARCHAR(2048) NOT NULL, profile VARCHAR(32) NOT NULL DEFAULT 'default', stream TINYINT NOT NULL DEFAULT 0,
        node VARCHAR(64) NOT NULL DEFAULT '', PRIMARY KEY (name, user_id), KEY (name)) ENGINE=MEMORY DEFAULT CHARSET=latin1;
      CREATE TABLE users_auth (id INT NOT NULL PRIMARY KEY, hash VARCHAR(32) NOT NULL) ENGINE=MEMORY DEFAULT CHARSET=latin1;
    `);
    await admin.end();
    return await run(server.account, server.pid!);
  } finally {
    await server.destroy();
  }
}

export async function benchCometQL(): Promise<unknown> {
  const runs: { cometql: Measurement[]; mariadb: Measurement[] } = { cometql: [], mariadb: [] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.cometql.push(await withCometQL((port, pid) => load({ host: '127.0.0.1', port, user: 'root', password: 'CometQLPassword', database: 'CometQL_v1' }, pid)));
    runs.mariadb.push(await withMariaDB((account, pid) => load(account, pid)));
  }
  const best = (list: Measurement[]): Measurement => list.reduce((a, b) => (b.qps > a.qps ? b : a));
  const cometql = best(runs.cometql);
  const mariadb = best(runs.mariadb);
  const result = {
    cometql,
    mariadb,
    ratio: round(cometql.qps / mariadb.qps),
    setup: { connections: CONNECTIONS, seconds_per_run: SECONDS, rounds: ROUNDS, client: 'mysql2 (one Node process)', machine_cores: (await import('node:os')).cpus().length },
    rounds: runs,
  };
  const file = writeResult('cometql', result);
  printTable(
    ['server', 'queries/s', 'p50 ms', 'p99 ms', 'server CPU ms / 1000 q'],
    [
      ['CometQL', cometql.qps, cometql.p50_ms, cometql.p99_ms, cometql.server_cpu_ms_per_1000_queries],
      ['MariaDB (MEMORY)', mariadb.qps, mariadb.p50_ms, mariadb.p99_ms, mariadb.server_cpu_ms_per_1000_queries],
    ],
  );
  console.log(`ratio (CometQL / MariaDB queries/s): ${result.ratio}   → ${file}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchCometQL().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
