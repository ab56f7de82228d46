import type { ConferenceModel } from '../src/conference/model.js';
import type { DevId } from '../src/domain.js';
import type { Messaging } from '../src/messaging/messaging.js';
import type { TenantStore } from '../src/tenants/store.js';
import type { ViewerTokens } from '../src/security/viewerTokens.js';
import { CometQLError, ErrorCode } from './errors.js';
import type { Condition, Limit, SelectExpression, SqlValue, Statement } from './statements.js';
import { TABLES } from './tables/index.js';
import type { Column, KeyRequirement, Row, Table, TableContext } from './tables/table.js';
import { likeMatcher } from './like.js';
import { pace } from './pace.js';
import { DATABASE_NAME } from './wire.js';

/** The state of one CometQL connection that statements read and change. */
export interface Session {
  connectionId: number;
  /** The MySQL user name as given; dev_id comes from it or from `db_<N>`. */
  user: string;
  devId: DevId;
  /** Logged in with the main password: may act on every tenant and manage `tenants`. */
  root: boolean;
  database: string | null;
  /** CLIENT_FOUND_ROWS: UPDATE reports matched rows instead of changed rows. */
  foundRows: boolean;
  lastInsertId: number;
}

export type Result =
  | { kind: 'ok'; affectedRows: number; insertId: number }
  | { kind: 'rows'; columns: string[]; rows: (string | null)[][]; table?: string };

export interface ServerFacts {
  version: string;
  versionComment: string;
  maxQuerySize: number;
  maxConnections: number;
  devIndexSize: number;
  startedAt: number;
  connections(): number;
  queries(): number;
}

type TableStatement = Extract<Statement, { kind: 'select' | 'insert' | 'delete' | 'update' }>;

const OK: Result = { kind: 'ok', affectedRows: 0, insertId: 0 };

/**
 * The dev_id a database name selects for this session: `CometQL_v1` keeps the connection's, `db_<N>` is N
 * (CppComet's multi-db). Only root may name another tenant's: ERR 403 for anyone else, ERR 15 for no such
 * database.
 */
function databaseDevId(session: Session, name: string, devIndexSize: number): DevId {
  if (name === DATABASE_NAME) return session.devId;
  const match = /^db_(\d{1,10})$/.exec(name);
  const devId = match ? Number(match[1]) : NaN;
  if (!(devId < devIndexSize)) throw new CometQLError(ErrorCode.notExist, 'Select database failure');
  if (devId !== session.devId && !session.root) throw CometQLError.accessDenied(`to database ${name}: a tenant with its own password reaches only its own`);
  return devId;
}

/** Runs parsed statements against the conference model, the messaging service and the tenants. */
export class Executor {
  constructor(
    private readonly model: ConferenceModel,
    private readonly messaging: Messaging,
    private readonly tenants: TenantStore,
    private readonly facts: ServerFacts,
    private readonly viewerTokens: ViewerTokens,
  ) {}

  async execute(session: Session, statement: Statement): Promise<Result> {
    switch (statement.kind) {
      case 'select':
      case 'insert':
      case 'delete':
      case 'update':
        return this.runOnTable(session, statement);
      case 'selectExpressions': {
        const row = statement.items.map(({ expression }) => text(this.evaluate(session, expression)));
        const count = statement.limit ? Math.max(0, Math.min(1 - statement.limit.offset, statement.limit.count)) : 1;
        return rows(statement.items.map((item) => item.label), count > 0 ? [row] : []);
      }
      case 'set':
      case 'transaction':
        return OK;
      case 'use':
        useDatabase(session, statement.database, this.facts.devIndexSize);
        return OK;
      case 'showDatabases':
        return rows(['Database'], like([[DATABASE_NAME]], statement.like));
      case 'showTables': {
        const visible = [...TABLES.values()].filter((table) => session.root || !table.rootOnly);
        return rows(['Tables'], like(visible.map((table) => [table.name]), statement.like));
      }
      case 'showColumns': {
        const table = findTable(statement.table);
        const described = table.columns.map((column) => describe(column));
        return rows(['Field', 'Type', 'Null', 'Key', 'Default', 'Extra'], like(described, statement.like));
      }
      case 'showVariables':
        return rows(['Variable_name', 'Value'], like(Object.entries(this.variables()).map(([n, v]) => [n, String(v)]), statement.like));
      case 'showStatus':
        return rows(['Variable_name', 'Value'], like(await this.status(session), statement.like));
      case 'showWarnings':
        return rows(['Level', 'Code', 'Message'], []);
    }
  }

  private async runOnTable(session: Session, statement: TableStatement): Promise<Result> {
    const table = findTable(statement.table);
    if (table.rootOnly && !session.root) throw CometQLError.accessDenied(`to \`${table.name}\`: only root manages it`);
    // `db_N.table` acts on tenant N, as `USE db_N` would, and only where USE would be allowed.
    const devId = statement.database === null ? session.devId : databaseDevId(session, statement.database, this.facts.devIndexSize);
    const context: TableContext = {
      devId,
      model: this.model,
      messaging: this.messaging,
      tenants: this.tenants,
      devIndexSize: this.facts.devIndexSize,
      viewerTokens: this.viewerTokens,
    };
    switch (statement.kind) {
      case 'select': {
        const columns =
          statement.columns === '*'
            ? table.columns.map((column) => ({ column: column.name, label: column.name }))
            : statement.columns.map(({ column, label }) => ({ column: columnOf(table, column).name, label }));
        onlyOnce(columns.map((c) => c.column), 'Each column in the select used only once');
        const where = normalizeWhere(table, statement.where);
        requireKeys(table.requiredKeys.select, where, 'Selection');
        let found = filter(table, await table.rows(context, where), where);
        for (const order of [...statement.orderBy].reverse()) {
          const column = columnOf(table, order.column);
          found = found.sort((a, b) => compare(column, a[column.name], b[column.name]) * (order.descending ? -1 : 1));
        }
        found = applyLimit(found, statement.limit);
        return {
          kind: 'rows',
          columns: columns.map((c) => c.label),
          rows: found.map((row) => columns.map((c) => text(row[c.column]))),
          table: table.name,
        };
      }
      case 'insert': {
        if (!table.insert) throw readOnly(table);
        const names = statement.columns ? statement.columns.map((name) => columnOf(table, name).name) : table.columns.map((c) => c.name);
        onlyOnce(names, 'Each column in the insert used only once');
        let affectedRows = 0;
        let insertId = 0;
        for (const values of statement.rows) {
          await pace();
          if (values.length !== names.length) throw new CometQLError(ErrorCode.columnsList, 'Error in columns list');
          const result = await table.insert(context, new Map(names.map((name, i) => [name, values[i]!])));
          affectedRows += result.affectedRows;
          insertId = result.insertId;
        }
        session.lastInsertId = insertId || session.lastInsertId;
        return { kind: 'ok', affectedRows, insertId };
      }
      case 'delete': {
        if (!table.remove) throw readOnly(table);
        const where = normalizeWhere(table, statement.where);
        requireKeys(table.requiredKeys.delete, where, 'Deleting');
        const found = applyLimit(filter(table, await table.rows(context, where), where), statement.limit);
        return { kind: 'ok', affectedRows: await table.remove(context, found), insertId: 0 };
      }
      case 'update': {
        if (!table.update) throw CometQLError.notImplemented(`UPDATE of \`${table.name}\``);
        const changes = new Map(statement.set.map(({ column, value }) => [columnOf(table, column).name, value]));
        onlyOnce(statement.set.map(({ column }) => column.toLowerCase()), 'Each column in the update used only once');
        const where = normalizeWhere(table, statement.where);
        requireKeys(table.requiredKeys.update, where, 'Updating');
        const found = applyLimit(filter(table, await table.rows(context, where), where), statement.limit);
        const result = await table.update(context, found, changes);
        return { kind: 'ok', affectedRows: session.foundRows ? result.matched : result.changed, insertId: 0 };
      }
    }
  }

  private evaluate(session: Session, expression: SelectExpression): SqlValue {
    switch (expression.type) {
      case 'literal':
        return expression.value;
      case 'variable': {
        if (!expression.name.startsWith('@@')) return null; // user variables are never set here
        const name = expression.name.slice(2).toLowerCase().replace(/^(session|global|local)\./, '');
        const value = this.variables()[name];
        if (value === undefined) throw CometQLError.notImplemented(`System variable ${expression.name}`);
        return value;
      }
      case 'function':
        return this.callFunction(session, expression.name);
    }
  }

  private callFunction(session: Session, name: string): SqlValue {
    const now = new Date();
    switch (name) {
      case 'DATABASE':
      case 'SCHEMA':
        return session.database;
      case 'VERSION':
        return this.facts.version;
      case 'USER':
      case 'CURRENT_USER':
      case 'SESSION_USER':
      case 'SYSTEM_USER':
        return `${session.user}@localhost`;
      case 'CONNECTION_ID':
        return session.connectionId;
      case 'LAST_INSERT_ID':
        return session.lastInsertId;
      case 'NOW':
      case 'SYSDATE':
      case 'CURRENT_TIMESTAMP':
        return now.toISOString().slice(0, 19).replace('T', ' ');
      case 'CURDATE':
      case 'CURRENT_DATE':
        return now.toISOString().slice(0, 10);
      case 'UNIX_TIMESTAMP':
        return Math.floor(now.getTime() / 1000);
      default:
        throw CometQLError.notImplemented(`Function ${name}()`);
    }
  }

  /** The system variables clients and connectors ask for. */
  private variables(): Record<string, SqlValue> {
    return {
      version: this.facts.version,
      version_comment: this.facts.versionComment,
      max_allowed_packet: this.facts.maxQuerySize,
      max_connections: this.facts.maxConnections,
      autocommit: 1,
      sql_mode: '',
      character_set_client: 'utf8mb4',
      character_set_connection: 'utf8mb4',
      character_set_results: 'utf8mb4',
      character_set_server: 'utf8mb4',
      character_set_database: 'utf8mb4',
      collation_connection: 'utf8mb4_general_ci',
      collation_server: 'utf8mb4_general_ci',
      collation_database: 'utf8mb4_general_ci',
      lower_case_table_names: 0,
      tx_isolation: 'REPEATABLE-READ',
      transaction_isolation: 'REPEATABLE-READ',
      tx_read_only: 0,
      transaction_read_only: 0,
      wait_timeout: 28800,
      interactive_timeout: 28800,
      net_read_timeout: 30,
      net_write_timeout: 60,
      time_zone: 'SYSTEM',
      system_time_zone: 'UTC',
      auto_increment_increment: 1,
      license: 'AGPL-3.0',
      performance_schema: 0,
      query_cache_size: 0,
      init_connect: '',
    };
  }

  /** Seconds since the server started: all a tenant's COM_STATISTICS shows. */
  uptime(): number {
    return Math.floor((Date.now() - this.facts.startedAt) / 1000);
  }

  private async status(session: Session): Promise<string[][]> {
    const conferences = await this.model.conferences(session.devId);
    // The server's connections and queries are every tenant's together: root's to see, as the *_all counts.
    const server = session.root
      ? [
          ['Threads_connected', String(this.facts.connections())],
          ['Questions', String(this.facts.queries())],
        ]
      : [];
    const own = [
      ['Uptime', String(this.uptime())],
      ...server,
      ['dev_id', String(session.devId)],
      ['conferences', String(conferences.length)],
      ['members', String(conferences.reduce((sum, c) => sum + c.members, 0))],
    ];
    if (!session.root) return own;
    const counts = await this.model.counts();
    return [
      ...own,
      ['conferences_all', String(counts.rooms)],
      ['members_all', String(counts.members)],
      ['invitations_all', String(counts.invitations)],
    ];
  }
}

/** Applies a database name to the session (`USE`, COM_INIT_DB, the handshake), or fails as databaseDevId says. */
export function useDatabase(session: Session, name: string, devIndexSize: number): void {
  session.devId = databaseDevId(session, name, devIndexSize);
  session.database = name;
}

function findTable(name: string): Table {
  const table = TABLES.get(name.toLowerCase());
  if (!table) throw CometQLError.tableNotFound();
  return table;
}

/** Column names are case-insensitive, as in MySQL (CppComet's case-sensitivity broke its own docs' examples). */
function columnOf(table: Table, name: string): Column {
  const column = table.columns.find((c) => c.name === name.toLowerCase());
  if (!column) throw CometQLError.unknownColumn();
  return column;
}

function onlyOnce(names: string[], message: string): void {
  if (new Set(names).size !== names.length) throw new CometQLError(ErrorCode.whereColumns, message);
}

/** Column names as the table has them; a value listed twice counts once (or `IN (1, 1, …)` would repeat rows). */
function normalizeWhere(table: Table, where: Condition[]): Condition[] {
  const normalized = where.map((condition) => ({ column: columnOf(table, condition.column).name, values: [...new Set(condition.values)] }));
  onlyOnce(normalized.map((c) => c.column), 'Each column in the conditions used only once');
  return normalized;
}

function requireKeys(keys: readonly KeyRequirement[] | undefined, where: Condition[], action: 'Selection' | 'Deleting' | 'Updating'): void {
  const constrained = (column: string): boolean => where.some((condition) => condition.column === column);
  const missing = (key: KeyRequirement): boolean => (typeof key === 'string' ? !constrained(key) : !key.some(constrained));
  if (keys?.some(missing)) throw CometQLError.keyRequired(action);
}

/**
 * Whether a row's value is one of a condition's: numbers compare as numbers on int columns (a blank value
 * matches nothing), text as text. A set, so an IN list of thousands costs one lookup per row.
 */
function matcher(column: Column, values: readonly SqlValue[]): (rowValue: string | number | undefined) => boolean {
  const present = values.filter((value) => value !== null);
  if (column.type === 'int') {
    const numbers = new Set(present.filter((value) => String(value).trim() !== '').map(Number).filter((n) => !Number.isNaN(n)));
    return (rowValue) => rowValue !== undefined && numbers.has(Number(rowValue));
  }
  const texts = new Set(present.map(String));
  return (rowValue) => rowValue !== undefined && texts.has(String(rowValue));
}

function filter(table: Table, found: Row[], where: Condition[]): Row[] {
  const checks = where.map((condition) => {
    const column = columnOf(table, condition.column);
    return { name: column.name, matches: matcher(column, condition.values) };
  });
  return found.filter((row) => checks.every(({ name, matches }) => matches(row[name])));
}

function compare(column: Column, a: string | number | undefined, b: string | number | undefined): number {
  if (column.type === 'int') return Number(a) - Number(b);
  return String(a ?? '').localeCompare(String(b ?? ''));
}

function applyLimit<T>(items: T[], limit: Limit | null): T[] {
  return limit ? items.slice(limit.offset, limit.offset + limit.count) : items;
}

function readOnly(table: Table): CometQLError {
  return new CometQLError(ErrorCode.readOnly, `Table \`${table.name}\` is read only`);
}

function describe(column: Column): string[] {
  return [column.name, column.sqlType, 'NO', column.key ? 'PRI' : '', '', ''];
}

function text(value: SqlValue | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}

function rows(columns: string[], data: (string | null)[][]): Result {
  return { kind: 'rows', columns, rows: data };
}

/** SQL LIKE on the first column (SHOW ... LIKE 'pattern'), case-insensitive. */
function like(data: string[][], pattern: string | null): string[][] {
  if (pattern === null) return data;
  const matches = likeMatcher(pattern);
  return data.filter((row) => matches(row[0] ?? ''));
}
