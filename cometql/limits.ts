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
/** Tokens of a statement's shape (its value lists folded): node-sql-parser parses 500 in about 10 ms. */
export const MAX_SHAPE_TOKENS = 500;
/** Nested parentheses in one statement. */
export const MAX_NESTING = 32;

/** Tokens the lexer reads before refusing a query: the largest lists allowed, and room for many statements. */
export function tokenBudget(limits: QueryLimits): number {
  return 4 * limits.maxListValues + 64 * MAX_STATEMENTS;
}

const overflow = (message: string): CometQLError => new CometQLError(ErrorCode.overflow, message);

export const tooManyStatements = (): CometQLError => overflow(`Too many statements in one query: at most ${MAX_STATEMENTS}`);

export const tooManyTokens = (budget: number): CometQLError => overflow(`Query too long: more than ${budget} tokens`);

export const tooManyValues = (where: 'an IN list' | 'one INSERT', limits: QueryLimits): CometQLError =>
  overflow(`Too many values in ${where}: at most ${limits.maxListValues} ([cometql] max_list_values)`);

export const tooComplex = (): CometQLError =>
  overflow(`Statement too complex: more than ${MAX_SHAPE_TOKENS} tokens besides its value lists, or more than ${MAX_NESTING} nested parentheses`);
