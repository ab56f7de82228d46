import type { DevId } from '../../src/domain.js';
import type { ConferenceModel } from '../../src/conference/model.js';
import type { Condition, SqlValue } from '../statements.js';

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
}

export interface InsertResult {
  affectedRows: number;
  insertId: number;
}

export interface UpdateResult {
  matched: number;
  changed: number;
}

/**
 * One CometQL table: a view of the conference model. `rows` returns candidates (it may use the key
 * conditions to narrow them); the executor applies the full WHERE, so every column can be filtered on.
 * An absent insert/remove/update makes the table read-only for that statement.
 */
export interface Table {
  name: string;
  columns: readonly Column[];
  /** Columns a statement must constrain in WHERE (CppComet's ERR 13), per statement kind. */
  requiredKeys: { select?: readonly string[]; delete?: readonly string[]; update?: readonly string[] };
  rows(context: TableContext, where: readonly Condition[]): Promise<Row[]>;
  insert?(context: TableContext, values: ReadonlyMap<string, SqlValue>): Promise<InsertResult>;
  remove?(context: TableContext, rows: readonly Row[]): Promise<number>;
  update?(context: TableContext, rows: readonly Row[], changes: ReadonlyMap<string, SqlValue>): Promise<UpdateResult>;
}

/** The values a WHERE gives for a column (`=` or `IN`), or undefined if it does not constrain it. */
export function keyValues(where: readonly Condition[], column: string): SqlValue[] | undefined {
  return where.find((condition) => condition.column === column)?.values;
}
