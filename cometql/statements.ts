/** The parsed form of a CometQL statement: what the executor runs. */

export type SqlValue = string | number | boolean | null;

/** `column = v` (one value) or `column IN (v, …)`; conditions are joined by AND. */
export interface Condition {
  column: string;
  values: SqlValue[];
}

export interface OrderBy {
  column: string;
  descending: boolean;
}

export interface Limit {
  offset: number;
  count: number;
}

export interface TableRef {
  table: string;
  /** The database named before the table (`CometQL_v1.conference`), if any. */
  database: string | null;
}

/** A SELECT column: the table column it reads and the name it is shown under. */
export interface SelectColumn {
  column: string;
  label: string;
}

export type SelectExpression =
  | { type: 'literal'; value: SqlValue }
  | { type: 'variable'; name: string }
  | { type: 'function'; name: string };

export type Statement =
  | (TableRef & {
      kind: 'select';
      columns: '*' | SelectColumn[];
      where: Condition[];
      orderBy: OrderBy[];
      limit: Limit | null;
    })
  | (TableRef & { kind: 'insert'; columns: string[] | null; rows: SqlValue[][] })
  | (TableRef & { kind: 'delete'; where: Condition[]; limit: Limit | null })
  | (TableRef & { kind: 'update'; set: { column: string; value: SqlValue }[]; where: Condition[]; limit: Limit | null })
  | { kind: 'selectExpressions'; items: { label: string; expression: SelectExpression }[]; limit: Limit | null }
  | { kind: 'set' }
  | { kind: 'transaction' }
  | { kind: 'use'; database: string }
  | { kind: 'showDatabases'; like: string | null }
  | { kind: 'showTables'; like: string | null }
  | { kind: 'showColumns'; table: string; like: string | null }
  | { kind: 'showVariables'; like: string | null }
  | { kind: 'showStatus'; like: string | null }
  | { kind: 'showWarnings' };

export type StatementKind = Statement['kind'];
