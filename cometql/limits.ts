import { CometQLError, ErrorCode } from './errors.js';

/**
 * Bounds on one query, checked on its tokens before node-sql-parser is asked: that parser's time grows with
 * the statement (a 140,000-value IN list held the event loop for 2.6 s), so nothing big reaches it. Value
 * lists are folded out of the statement's shape (see parser.ts), so what it parses stays small.
 */
export interface QueryLimits {
  /** [cometql] max_list_values: the entries of an IN (…), the values of an INSERT. */
  maxListValues: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxListValues: 10_000 };

/** Statements in one multi-statement query. */
export const MAX_STATEMENTS = 1000;
/**
 * Tokens of a statement, its value lists folded (what node-sql-parser parses: 200 take it 3-10 ms here, 500
 * up to 60 on a loaded machine). The widest statement of any table needs about 80.
 */
export const MAX_SHAPE_TOKENS = 200;
/** Nested parentheses in one statement. */
export const MAX_NESTING = 32;
/**
 * Characters of a name (table, column, alias, database; MySQL's own limit), checked by the lexer: names go
 * into the shape node-sql-parser parses and the cache keeps, where a 1 MB name cost 0.4 s and 1 MB of cache.
 */
export const MAX_NAME_LENGTH = 64;

/**
 * Tokens the lexer reads before refusing a query (56,000 take it a few ms): the largest lists allowed
 * (a one-column row is 4 tokens a value), and room for many small statements.
 */
export function tokenBudget(limits: QueryLimits): number {
  return 4 * limits.maxListValues + 16 * MAX_STATEMENTS;
}

const overflow = (message: string): CometQLError => new CometQLError(ErrorCode.overflow, message);

export const tooManyStatements = (): CometQLError => overflow(`Too many statements in one query: at most ${MAX_STATEMENTS}`);

export const tooLongName = (): CometQLError => overflow(`Name too long: at most ${MAX_NAME_LENGTH} characters`);

export const tooManyTokens = (budget: number): CometQLError => overflow(`Query too long: more than ${budget} tokens`);

export const tooManyValues = (where: 'an IN list' | 'one INSERT', limits: QueryLimits): CometQLError =>
  overflow(`Too many values in ${where}: at most ${limits.maxListValues} ([cometql] max_list_values)`);

export const tooComplex = (): CometQLError =>
  overflow(`Statement too complex: more than ${MAX_SHAPE_TOKENS} tokens besides its value lists, or more than ${MAX_NESTING} nested parentheses`);
