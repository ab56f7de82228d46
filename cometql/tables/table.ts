import type { DevId, PipeName } from '../../src/domain.js';
import type { ConferenceModel } from '../../src/conference/model.js';
import type { Messaging } from '../../src/messaging/messaging.js';
import type { TenantStore } from '../../src/tenants/store.js';
import type { ViewerTokens } from '../../src/security/viewerTokens.js';
import { CometQLError, ErrorCode } from '../errors.js';
import type { Condition, SqlValue } from '../statements.js';
import { isValidPipeName } from '../../src/messaging/names.js';
import { pace } from '../pace.js';
import { namesOf, requireValue } from '../values.js';

/** How a column's values are checked and shown (`DESCRIBE` shows sqlType). */
export type ColumnType = 'int' | 'text';

export interface Column {
  name: string;
  type: ColumnType;
  sqlType: string;
  /** Part of the primary key (`DESCRIBE` shows PRI). */
  key?: boolean;
}

/** A row as a table returns it; the executor filters, orders, limits and projects it. */
export type Row = Record<string, string | number>;

export interface TableContext {
  devId: DevId;
  model: ConferenceModel;
  messaging: Messaging;
  tenants: TenantStore;
  /** [main] dev_index_size: dev_ids are 0 … devIndexSize - 1. */
  devIndexSize: number;
  /** Signs the viewer tokens of private broadcasts' URLs. */
  viewerTokens: ViewerTokens;
}

export interface InsertResult {
  affectedRows: number;
  insertId: number;
}

export interface UpdateResult {
  matched: number;
  changed: number;
}

/** A column a statement must constrain in WHERE, or a list of columns one of which it must constrain. */
export type KeyRequirement = string | readonly string[];

/**
 * One CometQL table: a view of the conference model or of the messaging service. `rows` returns candidates (it may use the key
 * conditions to narrow them); the executor applies the full WHERE, so every column can be filtered on.
 * An absent insert/remove/update makes the table read-only for that statement.
 */
export interface Table {
  name: string;
  columns: readonly Column[];
  /** Only root sees and uses it (`tenants`). */
  rootOnly?: boolean;
  /** Columns a statement must constrain in WHERE (CppComet's ERR 13), per statement kind. */
  requiredKeys: { select?: readonly KeyRequirement[]; delete?: readonly KeyRequirement[]; update?: readonly KeyRequirement[] };
  rows(context: TableContext, where: readonly Condition[]): Promise<Row[]>;
  insert?(context: TableContext, values: ReadonlyMap<string, SqlValue>): Promise<InsertResult>;
  remove?(context: TableContext, rows: readonly Row[]): Promise<number>;
  update?(context: TableContext, rows: readonly Row[], changes: ReadonlyMap<string, SqlValue>): Promise<UpdateResult>;
}

/** The values a WHERE gives for a column (`=` or `IN`), or undefined if it does not constrain it. */
export function keyValues(where: readonly Condition[], column: string): SqlValue[] | undefined {
  return where.find((condition) => condition.column === column)?.values;
}

/** The pipe names a WHERE asks for (`name`), those that could be pipes at all; undefined: no condition. */
export function pipeNamesOf(where: readonly Condition[]): PipeName[] | undefined {
  return namesOf(keyValues(where, 'name'))?.filter(isValidPipeName);
}

/**
 * UPDATE of a table keyed by `key` with one writable column: each row whose value differs is written.
 * Changing the key itself is refused (it would be a DELETE and an INSERT).
 */
export async function updateColumn<T extends string | number>(
  table: string,
  rows: readonly Row[],
  changes: ReadonlyMap<string, SqlValue>,
  columns: { key: string; value: string },
  convert: (value: SqlValue) => T,
  write: (row: Row, value: T) => Promise<void>,
): Promise<UpdateResult> {
  if (changes.has(columns.key)) throw new CometQLError(ErrorCode.readOnly, `Column \`${columns.key}\` of \`${table}\` is read only`);
  const value = convert(requireValue(changes, columns.value));
  let changed = 0;
  for (const row of rows) {
    if (String(row[columns.value]) === String(value)) continue;
    await pace();
    await write(row, value);
    changed++;
  }
  return { matched: rows.length, changed };
}

/** DELETE row by row; counts what `remove` really removed (true, or a number of rows). */
export async function removeEach(rows: readonly Row[], remove: (row: Row) => Promise<boolean | number>): Promise<number> {
  let removed = 0;
  for (const row of rows) {
    await pace();
    removed += Number(await remove(row));
  }
  return removed;
}
