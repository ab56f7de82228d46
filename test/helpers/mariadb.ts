import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import type { MysqlSettings } from '../../src/storage/database.js';
import { freePort } from './server.js';

const exec = promisify(execFile);

/** What a client needs to reach the private MariaDB as its ordinary (non-root) user. */
export interface MariaDBAccount {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * A private Debian `mariadbd` on a free loopback port, with its own datadir and socket in a temporary
 * folder, and a real user with a password (`account`) owning one database. `stop()` and `start()` again
 * keep the data: a database that goes away and comes back.
 */
export class MariaDB {
  readonly dir = mkdtempSync(join(tmpdir(), 'cometmcu-mariadb-'));
  readonly account: MariaDBAccount;
  private process: ChildProcess | undefined;

  private constructor(port: number) {
    this.account = { host: '127.0.0.1', port, user: 'cometmcu', password: 'store-test-password', database: 'cometmcu' };
  }

  /** Installs a fresh datadir, starts the server and creates the account and its database. */
  static async create(): Promise<MariaDB> {
    const server = new MariaDB(await freePort());
    await exec('mariadb-install-db', [
      '--no-defaults',
      `--datadir=${server.dir}/data`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
    await server.start();
    const { host, user, password, database } = server.account;
    const admin = await mysql.createConnection({ socketPath: server.socket, user: 'root', multipleStatements: true });
    await admin.query(`
      CREATE DATABASE ${database} CHARACTER SET utf8mb4;
      CREATE USER '${user}'@'${host}' IDENTIFIED BY '${password}';
      GRANT ALL ON ${database}.* TO '${user}'@'${host}';
    `);
    await admin.end();
    return server;
  }

  /** The store's settings for this server. */
  get settings(): MysqlSettings {
    return { ...this.account, connections: 4 };
  }

  /** The same as [store] environment variables, for a whole server. */
  get storeEnv(): Record<string, string> {
    const { host, port, user, password, database } = this.account;
    return {
      COMET_STORE_MYSQL_HOST: host,
      COMET_STORE_MYSQL_PORT: String(port),
      COMET_STORE_MYSQL_USER: user,
      COMET_STORE_MYSQL_PASSWORD: password,
      COMET_STORE_MYSQL_DATABASE: database,
    };
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get socket(): string {
    return join(this.dir, 'mariadb.sock');
  }

  /** Starts mariadbd on the datadir and port; resolves once it accepts connections. */
  async start(): Promise<void> {
    const child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${this.dir}/data`,
        `--socket=${this.socket}`,
        `--pid-file=${this.dir}/mariadb.pid`,
        '--user=root',
        '--bind-address=127.0.0.1',
        `--port=${this.account.port}`,
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.process = child;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mariadbd did not start in 30 s:\n${log}`)), 30_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (/ready for connections/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mariadbd exited with ${code}:\n${log}`));
      });
    });
    child.stderr!.resume();
  }

  /** Shuts mariadbd down (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }

  /**
   * Freezes the server (SIGSTOP) or thaws it: a database that hangs instead of refusing. Resolves once every
   * thread of mariadbd is in the state asked for, so that nothing it was about to send still gets out.
   */
  async freeze(frozen: boolean): Promise<void> {
    const pid = this.process?.pid;
    if (pid === undefined) return;
    process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT');
    const deadline = Date.now() + 5_000;
    while (threadStates(pid).some((state) => (state === 'T') !== frozen)) {
      if (Date.now() > deadline) throw new Error(`mariadbd did not ${frozen ? 'stop' : 'continue'} within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Stops the server and removes its folder. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Drops every table of the account's database: a fresh store for the next test. */
  async empty(): Promise<void> {
    const connection = await mysql.createConnection(this.account);
    const [tables] = await connection.query<mysql.RowDataPacket[]>('SHOW TABLES');
    for (const row of tables) await connection.query(`DROP TABLE \`${String(Object.values(row)[0])}\``);
    await connection.end();
  }
}

/** The scheduler state letter (R, S, D, T, …) of each thread of a process, from /proc. */
function threadStates(pid: number): string[] {
  const tasks = `/proc/${pid}/task`;
  return readdirSync(tasks).flatMap((task) => {
    try {
      // The command name is in parentheses and may hold spaces; the state follows the last ')'.
      const stat = readFileSync(`${tasks}/${task}/stat`, 'utf8');
      return [stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}
