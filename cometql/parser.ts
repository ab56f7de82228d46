import mysqlParser from 'node-sql-parser/build/mysql.js';
import { CometQLError, ErrorCode } from './errors.js';
import { isKeyword, syntaxError, tokenize, type Token } from './lexer.js';
import { DEFAULT_LIMITS, MAX_NESTING, MAX_SHAPE_TOKENS, tokenBudget, tooComplex, tooManyValues, type QueryLimits } from './limits.js';
import type { Condition, Limit, OrderBy, SelectExpression, SqlValue, Statement } from './statements.js';
import { TABLES } from './tables/index.js';

/**
 * Turns query text into statements. SELECT/INSERT/REPLACE/DELETE/UPDATE go through node-sql-parser, cached
 * by statement shape (literals replaced by numbered markers, whole lists of them by one), because a parse
 * costs ~150-300 µs and backends send the same few shapes with different values. Session statements that
 * clients and CLIs send (SET, SHOW, DESCRIBE, USE, SELECT @@x) are recognised from the tokens, since
 * node-sql-parser does not cover them all. `limits` bound what a query may cost before any of that runs.
 */
export function parseQuery(sql: string, limits: QueryLimits = DEFAULT_LIMITS): Statement[] {
  return splitQuery(sql, limits).map((tokens) => parseStatement(sql, tokens, limits));
}

/**
 * The statements of a query as tokens, for a caller that parses them one at a time with parseStatement: the
 * tokens are cheap (the budget bounds them), while the parse of up to MAX_STATEMENTS statements is not, and
 * the connection yields to the event loop between them.
 */
export function splitQuery(sql: string, limits: QueryLimits = DEFAULT_LIMITS): Token[][] {
  return tokenize(sql, tokenBudget(limits));
}

/**
 * Column names of CometQL tables, read from the tables themselves. Quoted in the shape given to
 * node-sql-parser, since some of them (`index`, `time`, `data`) are MySQL keywords that CppComet accepted
 * unquoted.
 */
const COLUMN_NAMES = new Set([...TABLES.values()].flatMap((table) => table.columns.map((column) => column.name)));

const UNSUPPORTED_COMMANDS = new Set([
  'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'RENAME', 'GRANT', 'REVOKE', 'LOCK', 'UNLOCK', 'CALL', 'LOAD', 'HANDLER',
  'DO', 'FLUSH', 'KILL', 'ANALYZE', 'OPTIMIZE', 'CHECK', 'REPAIR', 'PREPARE', 'EXECUTE', 'DEALLOCATE', 'SAVEPOINT',
  'RELEASE', 'XA', 'INSTALL', 'UNINSTALL', 'RESET', 'PURGE', 'CHANGE', 'HELP', 'WITH', 'VALUES', 'TABLE',
]);

/** One statement of splitQuery, parsed. */
export function parseStatement(sql: string, tokens: Token[], limits: QueryLimits = DEFAULT_LIMITS): Statement {
  const verb = tokens[0]!.type === 'word' ? tokens[0]!.value.toUpperCase() : '';
  const cached = verb === 'INSERT' || verb === 'REPLACE' || verb === 'DELETE' || verb === 'UPDATE' || (verb === 'SELECT' && hasTopLevelKeyword(tokens, 'FROM'));
  if (cached) return parseCached(tokens, limits);
  // Session statements have no value lists: a long one is no statement a client sends.
  if (tokens.length > MAX_SHAPE_TOKENS) throw tooComplex();
  switch (verb) {
    case 'SELECT':
      return parseSelectExpressions(sql, tokens);
    case 'SET':
      return { kind: 'set' };
    case 'BEGIN':
    case 'COMMIT':
    case 'ROLLBACK':
    case 'START':
      return { kind: 'transaction' };
    case 'USE':
      if (tokens.length !== 2 || !isName(tokens[1])) throw syntaxError('USE takes one database name');
      return { kind: 'use', database: tokens[1]!.value };
    case 'SHOW':
      return parseShow(tokens);
    case 'DESCRIBE':
    case 'DESC':
    case 'EXPLAIN':
      if (!isName(tokens[1]) || tokens.length > 3) throw syntaxError(`${verb} takes a table name`);
      return { kind: 'showColumns', table: tokens[1]!.value, like: tokens[2] ? likeOperand(tokens[2]) : null };
    default:
      if (UNSUPPORTED_COMMANDS.has(verb)) throw CometQLError.notImplemented(`Command ${verb}`);
      throw syntaxError(`unknown command ${tokens[0]!.value}`);
  }
}

const isName = (token: Token | undefined): boolean => token?.type === 'word' || token?.type === 'quoted_name';

function hasTopLevelKeyword(tokens: Token[], word: string): boolean {
  let depth = 0;
  for (const token of tokens) {
    if (token.type === 'punct') depth += token.value === '(' ? 1 : token.value === ')' ? -1 : 0;
    else if (depth === 0 && isKeyword(token, word)) return true;
  }
  return false;
}

// ---- SHOW ------------------------------------------------------------------------------------------

function parseShow(tokens: Token[]): Statement {
  const words = tokens.map((token) => (token.type === 'word' ? token.value.toUpperCase() : ''));
  let i = 1;
  const skip = (...optional: string[]): void => {
    while (optional.includes(words[i] ?? '')) i++;
  };
  const like = (): string | null => {
    if (words[i] === 'LIKE') {
      const pattern = tokens[i + 1];
      if (pattern?.type !== 'string' || tokens.length !== i + 2) throw syntaxError('LIKE takes one string');
      return pattern.value;
    }
    if (i !== tokens.length) throw syntaxError(`unexpected ${tokens[i]!.value}`);
    return null;
  };
  const database = (): void => {
    if (words[i] === 'FROM' || words[i] === 'IN') {
      if (!isName(tokens[i + 1])) throw syntaxError('database name expected');
      i += 2;
    }
  };
  skip('FULL', 'GLOBAL', 'SESSION', 'LOCAL');
  const what = words[i++];
  switch (what) {
    case 'DATABASES':
    case 'SCHEMAS':
      return { kind: 'showDatabases', like: like() };
    case 'TABLES':
      database();
      return { kind: 'showTables', like: like() };
    case 'COLUMNS':
    case 'FIELDS': {
      if (words[i] !== 'FROM' && words[i] !== 'IN') throw syntaxError('SHOW COLUMNS FROM <table>');
      const table = tokens[i + 1];
      if (!isName(table)) throw syntaxError('table name expected');
      i += 2;
      database();
      return { kind: 'showColumns', table: table!.value, like: like() };
    }
    case 'VARIABLES':
      return { kind: 'showVariables', like: like() };
    case 'STATUS':
      return { kind: 'showStatus', like: like() };
    case 'WARNINGS':
    case 'ERRORS':
      return { kind: 'showWarnings' };
    default:
      throw CometQLError.notImplemented(`SHOW ${tokens[i - 1]?.value ?? ''}`.trim());
  }
}

function likeOperand(token: Token): string {
  if (token.type !== 'string' && token.type !== 'word' && token.type !== 'quoted_name') throw syntaxError();
  return token.value;
}

// ---- SELECT without FROM: SELECT 1, SELECT @@version_comment LIMIT 1, SELECT DATABASE() -------------

function parseSelectExpressions(sql: string, tokens: Token[]): Statement {
  let end = tokens.length;
  let limit: Limit | null = null;
  const limitAt = tokens.findIndex((token) => isKeyword(token, 'LIMIT'));
  if (limitAt >= 0) {
    limit = parseLimitTokens(tokens.slice(limitAt + 1));
    end = limitAt;
  }
  const items: { label: string; expression: SelectExpression }[] = [];
  let start = 1;
  for (let i = 1; i <= end; i++) {
    if (i < end && !(tokens[i]!.type === 'punct' && tokens[i]!.value === ',')) continue;
    items.push(parseSelectItem(sql, tokens.slice(start, i)));
    start = i + 1;
  }
  return { kind: 'selectExpressions', items, limit };
}

function parseSelectItem(sql: string, item: Token[]): { label: string; expression: SelectExpression } {
  let alias: string | undefined;
  if (item.length >= 2 && isName(item[item.length - 1]) && (isKeyword(item[item.length - 2], 'AS') || item.length === 2 && item[0]!.type !== 'word')) {
    alias = item[item.length - 1]!.value;
    item = item.slice(0, isKeyword(item[item.length - 2], 'AS') ? -2 : -1);
  }
  if (item.length === 0) throw syntaxError('empty select expression');
  const label = alias ?? sql.slice(item[0]!.start, item[item.length - 1]!.end);
  const [first, second, third] = item;
  let expression: SelectExpression | undefined;
  if (item.length === 1 && first!.type === 'number') expression = { type: 'literal', value: Number(first!.value) };
  else if (item.length === 1 && first!.type === 'string') expression = { type: 'literal', value: first!.value };
  else if (item.length === 1 && first!.type === 'variable') expression = { type: 'variable', name: first!.value };
  else if (item.length === 1 && isKeyword(first, 'NULL')) expression = { type: 'literal', value: null };
  else if (item.length === 1 && (isKeyword(first, 'TRUE') || isKeyword(first, 'FALSE'))) {
    expression = { type: 'literal', value: isKeyword(first, 'TRUE') ? 1 : 0 };
  } else if (item.length === 2 && first!.value === '-' && second!.type === 'number') {
    expression = { type: 'literal', value: -Number(second!.value) };
  } else if (item.length === 3 && first!.type === 'word' && second!.value === '(' && third!.value === ')') {
    expression = { type: 'function', name: first!.value.toUpperCase() };
  } else if (item.length === 1 && first!.type === 'word' && /^CURRENT_(USER|TIMESTAMP|DATE)$/i.test(first!.value)) {
    expression = { type: 'function', name: first!.value.toUpperCase() };
  }
  if (!expression) throw CometQLError.notImplemented(`Expression ${label}`);
  return { label, expression };
}

function parseLimitTokens(tokens: Token[]): Limit {
  const numbers = tokens.filter((token) => token.type === 'number').map((token) => Number(token.value));
  const shape = tokens.map((token) => (token.type === 'number' ? 'n' : token.value.toUpperCase())).join(' ');
  if (shape === 'n') return { offset: 0, count: numbers[0]! };
  if (shape === 'n ,') throw syntaxError('LIMIT');
  if (shape === 'n , n') return { offset: numbers[0]!, count: numbers[1]! };
  if (shape === 'n OFFSET n') return { offset: numbers[1]!, count: numbers[0]! };
  throw syntaxError('LIMIT');
}

// ---- node-sql-parser with a shape cache ---------------------------------------------------------------

/** A literal of the query, filled into the cached statement template at its marker. */
interface Slot {
  slot: number;
  negate: boolean;
}
/** The values of an IN list, spliced into the array that holds this slot. */
interface ListSlot {
  listSlot: number;
}
/** The rows of an INSERT's VALUES. */
interface RowsSlot {
  rowsSlot: number;
}
type TemplateValue = SqlValue | Slot | ListSlot | RowsSlot;
/** What a marker of the shape stands for: a value, an IN list's values, an INSERT's rows. */
type Literal = SqlValue | SqlValue[] | SqlValue[][];

const STRING_MARKER = /^__cql_(\d+)__$/;
const LIST_MARKER = /^__cql_list_(\d+)__$/;
const ROWS_MARKER = /^__cql_rows_(\d+)__$/;
const NUMBER_MARKER_BASE = 900_000_000;
const CACHE_LIMIT = 2000;
/** Characters of all the cached shapes: with names of at most 64 characters a shape is at most ~26,000. */
const CACHE_CHARS = 1_000_000;
const sqlParser = new mysqlParser.Parser();
const templates = new Map<string, Statement | CometQLError>();
let cachedChars = 0;

/** The shape cache's entries and the characters of their keys, for tests. */
export function shapeCacheSize(): { entries: number; chars: number } {
  return { entries: templates.size, chars: cachedChars };
}

function parseCached(tokens: Token[], limits: QueryLimits): Statement {
  const literals: Literal[] = [];
  const parts: string[] = [];
  const columnNames = quotedInsertColumns(tokens);
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    // Lists of plain values are folded into one marker, however long: the shape node-sql-parser parses stays small.
    const list = isPunct(token, '(') && isKeyword(tokens[i - 1], 'IN') ? tuple(tokens, i) : undefined;
    if (list) {
      if (list.values.length > limits.maxListValues) throw tooManyValues('an IN list', limits);
      parts.push('(', `'__cql_list_${literals.length}__'`, ')');
      literals.push(list.values);
      i = list.next - 1;
      continue;
    }
    const rows = isPunct(token, '(') && (isKeyword(tokens[i - 1], 'VALUES') || isKeyword(tokens[i - 1], 'VALUE')) ? tupleRun(tokens, i) : undefined;
    if (rows) {
      if (rows.values > limits.maxListValues) throw tooManyValues('one INSERT', limits);
      // One row as wide as the real ones: node-sql-parser checks it against the column list.
      parts.push('(', `'__cql_rows_${literals.length}__'`, ...rows.rows[0]!.slice(1).flatMap(() => [',', 'NULL']), ')');
      literals.push(rows.rows);
      i = rows.next - 1;
      continue;
    }
    if (token.type === 'punct') {
      depth += token.value === '(' ? 1 : token.value === ')' ? -1 : 0;
      if (depth > MAX_NESTING) throw tooComplex();
    }
    switch (columnNames.has(token) ? 'quoted_name' : token.type) {
      case 'string':
        parts.push(`'__cql_${literals.length}__'`);
        literals.push(token.value);
        break;
      case 'number':
        parts.push(String(NUMBER_MARKER_BASE + literals.length));
        literals.push(Number(token.value));
        break;
      case 'quoted_name':
        parts.push(`\`${token.value.replace(/`/g, '``')}\``);
        break;
      case 'word':
        parts.push(COLUMN_NAMES.has(token.value.toLowerCase()) ? `\`${token.value.toLowerCase()}\`` : token.value);
        break;
      default:
        parts.push(token.value);
    }
    if (parts.length > MAX_SHAPE_TOKENS) throw tooComplex();
  }
  const shape = parts.join(' ');
  let template = templates.get(shape);
  if (template === undefined) {
    template = compile(shape);
    if (templates.size >= CACHE_LIMIT || cachedChars + shape.length > CACHE_CHARS) {
      templates.clear();
      cachedChars = 0;
    }
    templates.set(shape, template);
    cachedChars += shape.length;
  }
  if (template instanceof CometQLError) throw template;
  return fill(template, literals) as Statement;
}

/**
 * The string tokens that name columns of an INSERT/REPLACE column list. CppComet read `'x'` and `"x"` as
 * names where a name goes, and its own tests send `INSERT INTO pipes_settings ("name", "length") VALUES …`.
 */
function quotedInsertColumns(tokens: Token[]): Set<Token> {
  const verb = tokens[0]!.value.toUpperCase();
  if (verb !== 'INSERT' && verb !== 'REPLACE') return new Set();
  const open = tokens.findIndex((token) => token.type === 'punct' && token.value === '(');
  const close = tokens.findIndex((token, i) => i > open && token.type === 'punct' && token.value === ')');
  if (open < 0 || close < 0 || !(isKeyword(tokens[close + 1], 'VALUES') || isKeyword(tokens[close + 1], 'VALUE'))) return new Set();
  return new Set(tokens.slice(open + 1, close).filter((token) => token.type === 'string'));
}

const isPunct = (token: Token | undefined, value: string): boolean => token?.type === 'punct' && token.value === value;

/** A plain value at `i`: a string, a number, a negative number, NULL, TRUE or FALSE (as literal() reads them). */
function plainValue(tokens: Token[], i: number): { value: SqlValue; next: number } | undefined {
  const token = tokens[i];
  if (token?.type === 'string') return { value: token.value, next: i + 1 };
  if (token?.type === 'number') return { value: Number(token.value), next: i + 1 };
  if (isPunct(token, '-') && tokens[i + 1]?.type === 'number') return { value: -Number(tokens[i + 1]!.value), next: i + 2 };
  if (isKeyword(token, 'NULL')) return { value: null, next: i + 1 };
  if (isKeyword(token, 'TRUE') || isKeyword(token, 'FALSE')) return { value: isKeyword(token, 'TRUE') ? 1 : 0, next: i + 1 };
  return undefined;
}

/** `(v, v, …)` of plain values at `i`; undefined if anything else is in it (node-sql-parser then reads it). */
function tuple(tokens: Token[], i: number): { values: SqlValue[]; next: number } | undefined {
  if (!isPunct(tokens[i], '(')) return undefined;
  const values: SqlValue[] = [];
  for (let j = i + 1; ; j++) {
    const item = plainValue(tokens, j);
    if (!item) return undefined;
    values.push(item.value);
    j = item.next;
    if (isPunct(tokens[j], ')')) return { values, next: j + 1 };
    if (!isPunct(tokens[j], ',')) return undefined;
  }
}

/** The rows `(…), (…), …` of a VALUES at `i`, if every one is a tuple of as many plain values. */
function tupleRun(tokens: Token[], i: number): { rows: SqlValue[][]; values: number; next: number } | undefined {
  const rows: SqlValue[][] = [];
  let values = 0;
  for (let j = i; ; j++) {
    const row = tuple(tokens, j);
    if (!row || (rows.length > 0 && row.values.length !== rows[0]!.length)) return undefined;
    rows.push(row.values);
    values += row.values.length;
    j = row.next;
    if (!isPunct(tokens[j], ',')) return { rows, values, next: j };
  }
}

/** Replaces slots with the literals of this query; everything else is copied as is. */
function fill(value: unknown, literals: Literal[]): unknown {
  if (Array.isArray(value)) {
    return value.flatMap((item) => (isListSlot(item) ? (literals[item.listSlot] as SqlValue[]) : [fill(item, literals)]));
  }
  if (value === null || typeof value !== 'object') return value;
  if ('slot' in value) {
    const { slot, negate } = value as Slot;
    const literal = literals[slot] as SqlValue;
    return negate ? -Number(literal) : literal;
  }
  if ('rowsSlot' in value) return (literals[(value as RowsSlot).rowsSlot] as SqlValue[][]).map((row) => [...row]);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = fill(item, literals);
  return out;
}

/** Parses one statement shape into a template; a refusal is cached as the error it produces. */
function compile(shape: string): Statement | CometQLError {
  try {
    let ast = sqlParser.astify(shape, { database: 'MySQL' }) as unknown as Ast | Ast[];
    if (Array.isArray(ast)) {
      if (ast.length !== 1) throw syntaxError('one statement expected');
      ast = ast[0]!;
    }
    return fromAst(ast);
  } catch (error) {
    if (error instanceof CometQLError) return error;
    return syntaxError((error as Error).message);
  }
}

// The parts of node-sql-parser's AST we read; anything else is refused explicitly below.
interface Ast {
  type: string;
  [key: string]: unknown;
}
interface AstNode {
  type: string;
  value?: unknown;
  operator?: string;
  left?: AstNode;
  right?: AstNode;
  expr?: AstNode;
  column?: unknown;
  table?: string | null;
}
interface AstTable {
  db: string | null;
  table: string;
  join?: unknown;
}

function fromAst(ast: Ast): Statement {
  switch (ast.type) {
    case 'select': {
      // A UNION's other SELECTs hang off the first one; reading only that one would drop them unsaid.
      if (ast._next || ast.set_op) throw new CometQLError(ErrorCode.notImplemented, 'UNION is not supported');
      if (ast.with || ast.distinct || ast.groupby || ast.having || ast.window || ast.into && (ast.into as { position: unknown }).position) {
        throw CometQLError.notImplemented('This form of SELECT');
      }
      return {
        kind: 'select',
        ...singleTable(ast.from),
        columns: selectColumns(ast.columns),
        where: conditions(ast.where as AstNode | null),
        orderBy: orderBy(ast.orderby),
        limit: limit(ast.limit),
      } as Statement;
    }
    case 'insert':
    case 'replace': {
      const values = ast.values as { type: string; values: { value: AstNode[] }[] } | null;
      if (!values || values.type !== 'values') throw CometQLError.notImplemented('This form of INSERT');
      // Every INSERT is an upsert: IGNORE and ON DUPLICATE KEY UPDATE would ask for something else.
      if (ast.on_duplicate_update) throw CometQLError.notImplemented('ON DUPLICATE KEY UPDATE');
      if (/\bignore\b/i.test(String(ast.prefix ?? ''))) throw CometQLError.notImplemented('INSERT IGNORE');
      const columns = ast.columns as (string | { expr?: { value?: string } })[] | null;
      const rows = values.values.map((row) => row.value.map(literal));
      const folded = rows.length === 1 && isRowsSlot(rows[0]![0]) ? rows[0]![0] : undefined;
      return {
        kind: 'insert',
        ...singleTable(ast.table),
        columns: columns ? columns.map(columnName) : null,
        rows: folded ?? rows,
      } as Statement;
    }
    case 'delete':
      if (ast.orderby) throw CometQLError.notImplemented('ORDER BY in DELETE');
      return {
        kind: 'delete',
        ...singleTable(ast.from),
        where: conditions(ast.where as AstNode | null),
        limit: limit(ast.limit),
      } as Statement;
    case 'update': {
      if (ast.orderby) throw CometQLError.notImplemented('ORDER BY in UPDATE');
      const set = ast.set as { column: unknown; value: AstNode }[];
      return {
        kind: 'update',
        ...singleTable(ast.table),
        set: set.map((item) => ({ column: columnName(item.column), value: literal(item.value) })),
        where: conditions(ast.where as AstNode | null),
        limit: limit(ast.limit),
      } as Statement;
    }
    default:
      throw CometQLError.notImplemented(`Command ${ast.type.toUpperCase()}`);
  }
}

const isListSlot = (value: unknown): value is ListSlot => typeof value === 'object' && value !== null && 'listSlot' in value;
const isRowsSlot = (value: unknown): value is RowsSlot => typeof value === 'object' && value !== null && 'rowsSlot' in value;

function singleTable(from: unknown): { table: string; database: string | null } {
  const tables = from as AstTable[] | null;
  if (!tables || tables.length === 0) throw syntaxError('table expected');
  if (tables.length > 1 || tables[0]!.join) throw CometQLError.notImplemented('JOIN');
  return { table: tables[0]!.table, database: tables[0]!.db ?? null };
}

function columnName(column: unknown): string {
  if (typeof column === 'string') return column;
  const nested = (column as { expr?: { value?: unknown } } | null)?.expr?.value;
  if (typeof nested === 'string') return nested;
  throw syntaxError('column name expected');
}

function selectColumns(columns: unknown): '*' | { column: string; label: string }[] {
  const list = columns as { expr: AstNode; as: string | null }[];
  if (list.length === 1 && list[0]!.expr.type === 'column_ref' && list[0]!.expr.column === '*') return '*';
  return list.map(({ expr, as }) => {
    if (expr.type !== 'column_ref' || expr.column === '*') throw CometQLError.notImplemented('Expressions in a table SELECT');
    const column = columnName(expr.column);
    return { column, label: as ?? column };
  });
}

function conditions(where: AstNode | null): Condition[] {
  if (!where) return [];
  if (where.type === 'binary_expr' && where.operator === 'AND') {
    return [...conditions(where.left!), ...conditions(where.right!)];
  }
  if (where.type === 'binary_expr' && where.operator === 'OR') throw CometQLError.notImplemented('Operator OR');
  if (where.type === 'binary_expr' && (where.operator === '=' || where.operator === 'IN')) {
    if (where.left?.type !== 'column_ref') throw syntaxError('a condition starts with a column');
    const values = where.operator === 'IN' ? (where.right!.value as AstNode[]) : [where.right!];
    return [{ column: columnName(where.left.column), values: values.map(literal) as SqlValue[] }];
  }
  if (where.type === 'binary_expr') throw CometQLError.notImplemented(`Operator ${where.operator}`);
  throw syntaxError('condition expected');
}

/** A literal of the template: a marker becomes a slot; a bare name is a value, as CppComet allowed. */
function literal(node: AstNode): TemplateValue {
  switch (node.type) {
    case 'single_quote_string':
    case 'double_quote_string':
    case 'string': {
      const text = String(node.value);
      const marker = STRING_MARKER.exec(text);
      if (marker) return { slot: Number(marker[1]), negate: false };
      const list = LIST_MARKER.exec(text);
      if (list) return { listSlot: Number(list[1]) };
      const rows = ROWS_MARKER.exec(text);
      return rows ? { rowsSlot: Number(rows[1]) } : text;
    }
    case 'number': {
      const value = Number(node.value);
      return value >= NUMBER_MARKER_BASE ? { slot: value - NUMBER_MARKER_BASE, negate: false } : value;
    }
    case 'unary_expr':
      if (node.operator === '-' && node.expr) {
        const inner = literal(node.expr);
        if (typeof inner === 'number') return -inner;
        if (inner !== null && typeof inner === 'object' && 'slot' in inner) return { slot: inner.slot, negate: !inner.negate };
      }
      break;
    case 'bool':
      return node.value ? 1 : 0;
    case 'null':
      return null;
    case 'column_ref':
      return columnName(node.column);
  }
  throw CometQLError.notImplemented(`Value of type ${node.type}`);
}

function orderBy(order: unknown): OrderBy[] {
  const list = order as { expr: AstNode; type: string }[] | null;
  if (!list) return [];
  return list.map(({ expr, type }) => {
    if (expr.type !== 'column_ref') throw CometQLError.notImplemented('ORDER BY an expression');
    return { column: columnName(expr.column), descending: type === 'DESC' };
  });
}

function limit(value: unknown): Limit | null {
  const spec = value as { seperator: string; value: AstNode[] } | null;
  if (!spec || spec.value.length === 0) return null;
  // Numbers or slots; the template is filled before anyone reads them as numbers.
  const [first, second] = spec.value.map(literal) as unknown as number[];
  if (spec.value.length === 1) return { offset: 0, count: first! };
  return spec.seperator === 'offset' ? { offset: second!, count: first! } : { offset: first!, count: second! };
}
