import { CometQLError } from './errors.js';
import { MAX_NAME_LENGTH, MAX_STATEMENTS, tooLongName, tooManyStatements, tooManyTokens } from './limits.js';

/**
 * The CometQL tokenizer. It runs on every query, before any cache, so it is hand-written and small:
 * it unescapes string literals (both `\'` and `''` styles, as PHP clients mix them), splits statements
 * on `;`, tolerates CppComet-era trailing junk (`;'`), and lets the parser cache by statement shape.
 */
export type TokenType = 'word' | 'quoted_name' | 'string' | 'number' | 'variable' | 'punct';

export interface Token {
  type: TokenType;
  /** Unescaped value for strings and quoted names; the text otherwise. */
  value: string;
  /** Offsets in the query text, for error messages and column names of SELECT expressions. */
  start: number;
  end: number;
}

const BACKSLASH_ESCAPES: Record<string, string> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
  // MySQL keeps the backslash before % and _ (they matter only to LIKE).
  '%': '\\%',
  _: '\\_',
};

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isWordChar = (c: string): boolean =>
  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c === '_' || c === '$' || c > '\x7f';

/**
 * Splits a query into statements of tokens; empty statements (`;;`, a trailing `;`) are dropped. Stops with
 * an error once past `maxTokens` tokens or MAX_STATEMENTS statements, so a huge query costs no more than that,
 * and at a name (word, quoted name, variable) longer than MAX_NAME_LENGTH.
 */
export function tokenize(sql: string, maxTokens = Infinity): Token[][] {
  const statements: Token[][] = [];
  let current: Token[] = [];
  let i = 0;
  let tokens = 0;
  const n = sql.length;
  const endStatement = (): void => {
    if (current.length === 0) return;
    if (statements.length === MAX_STATEMENTS) throw tooManyStatements();
    statements.push(current);
    tokens += current.length;
    current = [];
  };
  while (i < n) {
    if (tokens + current.length > maxTokens) throw tooManyTokens(maxTokens);
    const c = sql[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '#' || (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2]!)))) {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) throw syntaxError('unterminated comment');
      i = close + 2;
    } else if (c === ';') {
      endStatement();
      i++;
    } else if (c === "'" || c === '"') {
      const literal = readQuoted(sql, i, c, true);
      if (!literal) {
        // CppComet tolerated a stray quote after the last statement (`...;'`): ignore it when nothing follows.
        if (current.length === 0 && sql.slice(i + 1).trim() === '') break;
        throw syntaxError('unterminated string');
      }
      current.push({ type: 'string', value: literal.value, start: i, end: literal.end });
      i = literal.end;
    } else if (c === '`') {
      const name = readQuoted(sql, i, '`', false);
      if (!name) throw syntaxError('unterminated quoted name');
      if (name.value.length > MAX_NAME_LENGTH) throw tooLongName();
      current.push({ type: 'quoted_name', value: name.value, start: i, end: name.end });
      i = name.end;
    } else if (isDigit(c) || (c === '.' && isDigit(sql[i + 1] ?? ''))) {
      let j = i;
      while (j < n && isDigit(sql[j]!)) j++;
      if (sql[j] === '.') for (j++; j < n && isDigit(sql[j]!); ) j++;
      if (j < n && isWordChar(sql[j]!)) {
        // `1abc` is a name in MySQL, not a number followed by a name.
        while (j < n && isWordChar(sql[j]!)) j++;
        if (j - i > MAX_NAME_LENGTH) throw tooLongName();
        current.push({ type: 'word', value: sql.slice(i, j), start: i, end: j });
      } else {
        current.push({ type: 'number', value: sql.slice(i, j), start: i, end: j });
      }
      i = j;
    } else if (c === '@') {
      let j = i + 1;
      if (sql[j] === '@') j++;
      while (j < n && (isWordChar(sql[j]!) || sql[j] === '.')) j++;
      // `@@session.name`: a scope and a name, each a name.
      if (sql.slice(i, j).replace(/^@+/, '').split('.').some((part) => part.length > MAX_NAME_LENGTH)) throw tooLongName();
      current.push({ type: 'variable', value: sql.slice(i, j), start: i, end: j });
      i = j;
    } else if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(sql[j]!)) j++;
      if (j - i > MAX_NAME_LENGTH) throw tooLongName();
      current.push({ type: 'word', value: sql.slice(i, j), start: i, end: j });
      i = j;
    } else {
      const two = sql.slice(i, i + 2);
      const width = two === '<>' || two === '!=' || two === '<=' || two === '>=' ? 2 : 1;
      current.push({ type: 'punct', value: sql.slice(i, i + width), start: i, end: i + width });
      i += width;
    }
  }
  if (tokens + current.length > maxTokens) throw tooManyTokens(maxTokens);
  endStatement();
  return statements;
}

/** Reads a quoted literal starting at `start`; undefined if it never closes. */
function readQuoted(sql: string, start: number, quote: string, backslashes: boolean): { value: string; end: number } | undefined {
  let value = '';
  let i = start + 1;
  let chunkStart = i;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === quote) {
      value += sql.slice(chunkStart, i);
      if (sql[i + 1] === quote) {
        value += quote;
        i += 2;
        chunkStart = i;
        continue;
      }
      return { value, end: i + 1 };
    }
    if (c === '\\' && backslashes && i + 1 < sql.length) {
      value += sql.slice(chunkStart, i);
      const next = sql[i + 1]!;
      value += BACKSLASH_ESCAPES[next] ?? next;
      i += 2;
      chunkStart = i;
      continue;
    }
    i++;
  }
  return undefined;
}

export function syntaxError(detail?: string): CometQLError {
  return CometQLError.syntax(detail);
}

/** True if the token is the keyword `word` (keywords are case-insensitive). */
export function isKeyword(token: Token | undefined, word: string): boolean {
  return token !== undefined && token.type === 'word' && token.value.toUpperCase() === word;
}
