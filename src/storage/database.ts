import mysql, { type Pool, type PoolConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { SCHEMA } from './schema.js';
import { StoreError } from './storeError.js';

export interface MysqlSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  connections: number;
}

/** What runs queries: the pool, or one connection inside a transaction. */
export interface Queries {
  rows<T>(sql: string, values?: unknown[]): Promise<T[]>;
  /** A statement without a result set; resolves with the affected rows. */
  run(sql: string, values?: unknown[]): Promise<number>;
}

/**
 * The MySQL/MariaDB database of the stores: a mysql2 pool, the schema created on open, and every failure
 * turned into a StoreError. An outage is logged once when it starts and once when it ends, never with the
 * query text (it carries users' keys and messages).
 */
export class Database implements Queries {
  private reachable = true;
  private closed: Promise<void> | undefined;
  private readonly direct: Queries;

  private constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {
    this.direct = queriesOn(pool);
  }

  /** Connects and creates the missing tables; a database that does not answer is a one-line StoreError. */
  static async open(settings: MysqlSettings, log: Logger): Promise<Database> {
    const pool = mysql.createPool({
      host: settings.host,
      port: settings.port,
      user: settings.user,
      password: settings.password,
      database: settings.database,
      connectionLimit: settings.connections,
      charset: 'utf8mb4',
      connectTimeout: 5000,
      enableKeepAlive: true,
    });
    const database = new Database(pool, log);
    try {
      for (const statement of SCHEMA) await pool.query(statement);
    } catch (error) {
      await pool.end().catch(() => undefined);
      const where = `${settings.user}@${settings.host}:${settings.port}/${settings.database}`;
      throw new StoreError(`cannot open the MySQL store ${where}: ${(error as Error).message}`);
    }
    return database;
  }

  rows<T>(sql: string, values?: unknown[]): Promise<T[]> {
    return this.guard(() => this.direct.rows<T>(sql, values));
  }

  run(sql: string, values?: unknown[]): Promise<number> {
    return this.guard(() => this.direct.run(sql, values));
  }

  /** Runs `work` on one connection inside a transaction: committed if it resolves, rolled back if not. */
  transaction<T>(work: (queries: Queries) => Promise<T>): Promise<T> {
    return this.guard(async () => {
      const connection = await this.pool.getConnection();
      try {
        await connection.beginTransaction();
        const result = await work(queriesOn(connection));
        await connection.commit();
        return result;
      } catch (error) {
        await connection.rollback().catch(() => undefined);
        throw error;
      } finally {
        connection.release();
      }
    });
  }

  close(): Promise<void> {
    this.closed ??= this.pool.end();
    return this.closed;
  }

  private async guard<T>(query: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await query();
    } catch (error) {
      throw this.failure(error);
    }
    if (!this.reachable) {
      this.reachable = true;
      this.log.info('MySQL store reachable again');
    }
    return result;
  }

  private failure(error: unknown): StoreError {
    if (error instanceof StoreError) return error;
    const { code, fatal, sqlMessage } = error as { code?: string; fatal?: boolean; sqlMessage?: string };
    // Errors from the server itself carry a SQL message; anything else means the link to it failed.
    if (fatal || sqlMessage === undefined) {
      if (this.reachable) {
        this.reachable = false;
        this.log.error({ code, reason: (error as Error).message }, 'MySQL store unreachable; what needs it fails until it is back');
      }
      return new StoreError(`Storage unavailable: the MySQL store does not answer (${code ?? (error as Error).message})`);
    }
    this.log.error({ code, reason: sqlMessage }, 'MySQL store query failed');
    return new StoreError(`Storage error (${code})`);
  }
}

function queriesOn(target: Pool | PoolConnection): Queries {
  return {
    rows: async <T>(sql: string, values: unknown[] = []) => (await target.query<RowDataPacket[]>(sql, values))[0] as T[],
    run: async (sql: string, values: unknown[] = []) => (await target.query<ResultSetHeader>(sql, values))[0].affectedRows,
  };
}
