import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CometQLError } from '../../cometql/errors.js';
import { Executor, type Session } from '../../cometql/executor.js';
import { parseQuery } from '../../cometql/parser.js';
import { TABLES } from '../../cometql/tables/index.js';
import { ConferenceError, ConferenceModel } from '../../src/conference/model.js';
import { MemoryStore } from '../../src/conference/memoryStore.js';
import { SHIPPED_CONF_DIR } from '../../src/config.js';
import { MemoryMessagingStore } from '../../src/messaging/memoryStore.js';
import { Messaging } from '../../src/messaging/messaging.js';
import { loadProfiles } from '../../src/profiles.js';
import { ViewerTokens } from '../../src/security/viewerTokens.js';
import { MemoryTenantStore } from '../../src/tenants/store.js';
import { fuzz, fuzzTimeoutMs } from './fuzz.js';

/**
 * The CometQL lexer, parser and executor, in process, on hostile query text: SQL-ish token soup, mangled
 * statements, random text. Every refusal is an error the connection answers as an ERR packet (CometQLError,
 * or the model's ConferenceError); anything else would reach the client as "internal server error". Small
 * list limits, so the bounds are fuzzed too; a query may take a while to refuse, never long.
 */
const LIMITS = { maxListValues: 20 };
const PATIENCE_MS = 2000;

const columns = [...new Set([...TABLES.values()].flatMap((table) => table.columns.map((column) => column.name)))];
const WORDS = [
  ...['SELECT', 'INSERT', 'REPLACE', 'UPDATE', 'DELETE', 'INTO', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'VALUES', 'VALUE', 'SET'],
  ...['LIMIT', 'OFFSET', 'ORDER', 'BY', 'DESC', 'ASC', 'UNION', 'ALL', 'USE', 'SHOW', 'TABLES', 'DATABASES', 'COLUMNS', 'VARIABLES'],
  ...['STATUS', 'DESCRIBE', 'NULL', 'TRUE', 'FALSE', 'IGNORE', 'ON', 'DUPLICATE', 'KEY', 'LIKE', 'AS', 'DISTINCT', 'JOIN', 'GROUP'],
  ...['HAVING', 'BEGIN', 'COMMIT', 'CREATE', 'DROP', 'PREPARE', 'CASE', 'WHEN', 'THEN', 'END', 'SELECT', 'EXISTS', 'INTERVAL'],
  ...['db_0', 'db_5', 'db_99999999999', 'CometQL_v1', '@@version_comment', '@x', 'DATABASE()', 'NOW()', 'COUNT(*)', 'abs'],
  ...TABLES.keys(),
  ...columns,
];
const PUNCT = ['(', ')', ',', ';', '=', '.', '*', '-', '+', '<>', '!=', '>=', '<', "'", '"', '`', '\\', '/*', '*/', '-- ', '#', '\n', '?'];

const literal = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true }).map(String),
  fc.string({ maxLength: 12 }).map((text) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`),
  fc.constantFrom('1e5', '0x1F', '.5', '-0', '900000001', "'__cql_0__'", "'__cql_list_0__'", "'__cql_rows_1__'"),
);
const token = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 3, arbitrary: fc.constantFrom(...PUNCT) },
  { weight: 3, arbitrary: literal },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const soup = fc.array(token, { maxLength: 40 }).map((tokens) => tokens.join(' '));

/** Statements that nearly make sense, so the executor is reached: a table, its columns, lists of any length. */
const list = fc.array(literal, { minLength: 1, maxLength: 30 }).map((values) => values.join(', '));
const table = fc.constantFrom(...TABLES.keys(), 'db_5.users_auth', 'db_0.conference', 'nowhere.users_auth', 'tenants');
const column = fc.constantFrom(...columns, '*', 'nope');
const near = fc.oneof(
  fc.tuple(table, column, column, list).map(([t, c, w, l]) => `SELECT ${c} FROM ${t} WHERE ${w} IN (${l})`),
  fc.tuple(table, column, list).map(([t, c, l]) => `SELECT * FROM ${t} WHERE ${c} = ${l.split(',')[0]} ORDER BY ${c} LIMIT 3`),
  fc.tuple(table, fc.array(column, { minLength: 1, maxLength: 4 }), fc.array(list, { minLength: 1, maxLength: 4 })).map(
    ([t, cs, rows]) => `INSERT INTO ${t} (${cs.join(', ')}) VALUES ${rows.map((row) => `(${row})`).join(', ')}`,
  ),
  fc.tuple(table, column, literal, column, list).map(([t, c, v, w, l]) => `UPDATE ${t} SET ${c} = ${v} WHERE ${w} IN (${l})`),
  fc.tuple(table, column, list).map(([t, w, l]) => `DELETE FROM ${t} WHERE ${w} IN (${l})`),
  fc.constantFrom('USE db_0', 'USE db_5', 'USE nowhere', 'SHOW TABLES', 'SHOW STATUS', "SHOW VARIABLES LIKE '%a_'", 'DESCRIBE tenants', 'SELECT @@nope'),
);
const queries = fc.oneof(
  { weight: 3, arbitrary: soup },
  { weight: 3, arbitrary: fc.array(near, { minLength: 1, maxLength: 3 }).map((statements) => statements.join('; ')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes).toString('utf8')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
);

/** What the connection answers as an ERR packet; anything else is a bug. */
function expectClientError(error: unknown): void {
  if (error instanceof CometQLError || error instanceof ConferenceError) return;
  throw error;
}

describe('fuzzing CometQL queries', () => {
  let executor: Executor;
  beforeAll(() => {
    const model = new ConferenceModel(new MemoryStore(), loadProfiles(join(SHIPPED_CONF_DIR, 'profiles.ini')), {
      serverName: 'localhost',
      serverPort: 0,
      pipesalt: 'salt',
    });
    const facts = {
      version: 'fuzz',
      versionComment: 'fuzz',
      maxQuerySize: 1 << 20,
      maxConnections: 10,
      devIndexSize: 100_000,
      startedAt: Date.now(),
      connections: () => 1,
      queries: () => 0,
    };
    executor = new Executor(model, new Messaging(new MemoryMessagingStore()), new MemoryTenantStore(), facts, new ViewerTokens('', 60));
  });

  it(
    'the lexer, parser and executor refuse what they cannot run with CometQL errors, in bounded time',
    async () => {
      await fuzz('cometql-query', queries, async (sql) => {
        const started = performance.now();
        let statements;
        try {
          statements = parseQuery(sql, LIMITS);
        } catch (error) {
          expectClientError(error);
          return;
        }
        // As root and as a tenant with a password of its own (no reach beyond dev_id 5).
        for (const root of [true, false]) {
          const session: Session = { connectionId: 1, user: root ? 'root' : '5', devId: root ? 0 : 5, root, database: null, foundRows: false, lastInsertId: 0 };
          for (const statement of statements) {
            try {
              await executor.execute(session, statement);
            } catch (error) {
              expectClientError(error);
            }
          }
          if (!root) expect(session.devId).toBe(5);
        }
        expect(performance.now() - started).toBeLessThan(PATIENCE_MS);
      });
    },
    fuzzTimeoutMs(),
  );
});
