import { describe, expect, it } from 'vitest';
import { parseQuery, shapeCacheSize } from '../../cometql/parser.js';
import { tokenize } from '../../cometql/lexer.js';
import { CometQLError } from '../../cometql/errors.js';

const one = (sql: string) => {
  const statements = parseQuery(sql);
  expect(statements).toHaveLength(1);
  return statements[0]!;
};

/** The code and message of the CometQL error the parser refuses `sql` with; undefined if it parses. */
const refusal = (sql: string) => {
  try {
    parseQuery(sql);
  } catch (e) {
    return [(e as CometQLError).code, (e as CometQLError).message];
  }
  return undefined;
};

describe('the CometQL lexer', () => {
  it('unescapes both backslash and doubled-quote styles', () => {
    const values = (sql: string) => tokenize(sql)[0]!.filter((t) => t.type === 'string').map((t) => t.value);
    expect(values(String.raw`'it\'s' "say \"hi\"" 'a''b' "c""d" 'tab\there' 'back\\slash' 'nul\0' 'like\%'`)).toEqual([
      "it's", 'say "hi"', "a'b", 'c"d', 'tab\there', 'back\\slash', 'nul\0', 'like\\%',
    ]);
  });

  it('splits statements on ; outside strings and drops empty ones', () => {
    expect(tokenize("SELECT 'a;b'; ;SELECT 2;").map((s) => s.length)).toEqual([2, 2]);
  });

  it("tolerates a stray quote after the last ; (CppComet-era PHP)", () => {
    expect(tokenize("INSERT INTO users_auth VALUES (1, 'h');'")).toHaveLength(1);
    expect(() => tokenize("SELECT 'unterminated")).toThrow(CometQLError);
  });

  it('refuses names longer than MySQL allows (64 characters), however long', () => {
    const long = [11, 'Name too long: at most 64 characters'];
    const name = 'n'.repeat(64);
    expect(one(`SELECT id AS \`${name}\` FROM users_auth WHERE id = 1`)).toMatchObject({ columns: [{ column: 'id', label: name }] });
    expect(one(`SELECT id AS ${name} FROM users_auth WHERE id = 1`)).toMatchObject({ columns: [{ column: 'id', label: name }] });
    expect(refusal(`SELECT id AS \`${name}x\` FROM users_auth WHERE id = 1`)).toEqual(long);
    expect(refusal(`SELECT id AS ${name}x FROM users_auth WHERE id = 1`)).toEqual(long);
    expect(refusal(`SELECT id AS 1${name} FROM users_auth WHERE id = 1`)).toEqual(long);
    expect(refusal(`SELECT @@session.${name}x`)).toEqual(long);
    expect(refusal(`SELECT * FROM users_auth WHERE ${'c'.repeat(1 << 20)} = 1`)).toEqual(long);
  });

  it('skips comments', () => {
    expect(tokenize('/* hi */ SELECT -- comment\n 1 # trailing')[0]!.map((t) => t.value)).toEqual(['SELECT', '1']);
  });
});

describe('the CometQL parser', () => {
  it('parses INSERT with keywords in any case, backticks and several rows', () => {
    expect(one("insert INTO `conference` (`name`, User_Id, message) vAlUeS ('101', 7, 'x'), ('102', -3, \"y\")")).toEqual({
      kind: 'insert',
      table: 'conference',
      database: null,
      columns: ['name', 'user_id', 'message'],
      rows: [
        ['101', 7, 'x'],
        ['102', -3, 'y'],
      ],
    });
  });

  it('reuses the cached shape with new values', () => {
    const a = one("SELECT * FROM users_auth WHERE id IN (1, 2) LIMIT 5");
    const b = one("SELECT * FROM users_auth WHERE id IN (8, 9) LIMIT 1");
    expect(a).toMatchObject({ where: [{ column: 'id', values: [1, 2] }], limit: { offset: 0, count: 5 } });
    expect(b).toMatchObject({ where: [{ column: 'id', values: [8, 9] }], limit: { offset: 0, count: 1 } });
  });

  it('bounds the shape cache by the characters of its shapes, not only their number', () => {
    // Shapes as long as names and MAX_SHAPE_TOKENS let them be (~3,400 characters), each one new.
    for (let i = 0; i < 400; i++) {
      const aliases = Array.from({ length: 48 }, (_, j) => `id AS ${`a${i}_${j}_`.padEnd(64, 'x')}`).join(', ');
      parseQuery(`SELECT ${aliases} FROM users_auth WHERE id = 1`);
      expect(shapeCacheSize().chars).toBeLessThanOrEqual(1_000_000);
    }
  }, 30_000);

  it('reads lists of plain values as node-sql-parser would, however long, and other lists through it', () => {
    expect(one("SELECT * FROM conference WHERE user_id IN (1, -2, NULL, TRUE, FALSE, '3', 1.5) AND name = 'r'")).toMatchObject({
      where: [
        { column: 'user_id', values: [1, -2, null, 1, 0, '3', 1.5] },
        { column: 'name', values: ['r'] },
      ],
    });
    const many = Array.from({ length: 5000 }, (_, i) => i);
    expect(one(`SELECT * FROM users_auth WHERE id IN (${many.join(',')})`)).toMatchObject({ where: [{ column: 'id', values: many }] });
    expect(one("INSERT INTO conference (name, user_id, message) VALUES ('a', 1, NULL), ('b', -2, 'it''s')")).toMatchObject({
      rows: [
        ['a', 1, null],
        ['b', -2, "it's"],
      ],
    });
    // Rows of unequal width, or with a bare name (CppComet read it as text), are node-sql-parser's to read.
    expect(one('INSERT INTO users_auth (id, hash) VALUES (1, abcd), (2, efgh)')).toMatchObject({
      rows: [
        [1, 'abcd'],
        [2, 'efgh'],
      ],
    });
    expect(() => one("INSERT INTO users_auth (id, hash) VALUES (1, 'abcd'), (2)")).toThrow(CometQLError);
  });

  it('refuses what it would only half run: UNION, INSERT IGNORE, ON DUPLICATE KEY UPDATE, ORDER BY in DELETE or UPDATE', () => {
    expect(refusal('SELECT * FROM users_auth WHERE id = 1 UNION SELECT * FROM users_auth WHERE id = 2')).toEqual([2, 'UNION is not supported']);
    expect(refusal('SELECT id FROM users_auth WHERE id = 1 UNION ALL SELECT id FROM users_auth WHERE id = 2')).toEqual([2, 'UNION is not supported']);
    expect(refusal("INSERT IGNORE INTO users_auth (id, hash) VALUES (1, 'abcd')")).toEqual([2, 'INSERT IGNORE is not yet implemented']);
    expect(refusal("INSERT INTO users_auth (id, hash) VALUES (1, 'abcd') ON DUPLICATE KEY UPDATE hash = 'efgh'")).toEqual([
      2,
      'ON DUPLICATE KEY UPDATE is not yet implemented',
    ]);
    expect(refusal('DELETE FROM users_auth WHERE id IN (1, 2) ORDER BY id LIMIT 1')).toEqual([2, 'ORDER BY in DELETE is not yet implemented']);
    expect(refusal("UPDATE users_auth SET hash = 'abcd' WHERE id IN (1, 2) ORDER BY id LIMIT 1")).toEqual([2, 'ORDER BY in UPDATE is not yet implemented']);
  });

  it('reads LIMIT a, b and LIMIT b OFFSET a the MySQL way (CppComet swapped them)', () => {
    expect(one('SELECT * FROM conference LIMIT 10, 5')).toMatchObject({ limit: { offset: 10, count: 5 } });
    expect(one('SELECT * FROM conference LIMIT 5 OFFSET 10')).toMatchObject({ limit: { offset: 10, count: 5 } });
  });

  it('accepts column names that are MySQL keywords unquoted, as CppComet did', () => {
    expect(one('SELECT id, index, event, time FROM users_messages WHERE id = 1')).toMatchObject({
      columns: [
        { column: 'id', label: 'id' },
        { column: 'index', label: 'index' },
        { column: 'event', label: 'event' },
        { column: 'time', label: 'time' },
      ],
    });
  });

  it('reads quoted strings in an INSERT column list as column names, as CppComet did', () => {
    expect(one(`INSERT INTO pipes_settings ("name", 'length') VALUES ("name", 2)`)).toMatchObject({
      kind: 'insert',
      columns: ['name', 'length'],
      rows: [['name', 2]],
    });
    expect(one(`INSERT INTO pipes_settings VALUES ('p1', 2)`)).toMatchObject({ columns: null, rows: [['p1', 2]] });
  });

  it('parses UPDATE and DELETE with AND-ed conditions', () => {
    expect(one("UPDATE conference_members SET audio = 0 WHERE name = '101' AND user_id = 7")).toMatchObject({
      kind: 'update',
      set: [{ column: 'audio', value: 0 }],
      where: [
        { column: 'name', values: ['101'] },
        { column: 'user_id', values: [7] },
      ],
    });
    expect(one('DELETE FROM conference WHERE name = "a" AND user_id IN (1,2)')).toMatchObject({
      kind: 'delete',
      where: [
        { column: 'name', values: ['a'] },
        { column: 'user_id', values: [1, 2] },
      ],
    });
  });

  it('recognises the session statements of clients and CLIs', () => {
    expect(one('SET NAMES utf8mb4')).toEqual({ kind: 'set' });
    expect(one('set autocommit=0')).toEqual({ kind: 'set' });
    expect(one('SHOW FULL TABLES FROM CometQL_v1')).toEqual({ kind: 'showTables', like: null });
    expect(one("SHOW VARIABLES LIKE 'version%'")).toEqual({ kind: 'showVariables', like: 'version%' });
    expect(one('DESCRIBE conference')).toEqual({ kind: 'showColumns', table: 'conference', like: null });
    expect(one('SHOW COLUMNS FROM `users_auth`')).toEqual({ kind: 'showColumns', table: 'users_auth', like: null });
    expect(one('USE db_12')).toEqual({ kind: 'use', database: 'db_12' });
    expect(one('select @@version_comment limit 1')).toEqual({
      kind: 'selectExpressions',
      items: [{ label: '@@version_comment', expression: { type: 'variable', name: '@@version_comment' } }],
      limit: { offset: 0, count: 1 },
    });
    expect(one('SELECT 1, DATABASE(), -2 AS minus')).toMatchObject({
      items: [
        { label: '1', expression: { type: 'literal', value: 1 } },
        { label: 'DATABASE()', expression: { type: 'function', name: 'DATABASE' } },
        { label: 'minus', expression: { type: 'literal', value: -2 } },
      ],
    });
  });

  it('refuses what it does not support with CometQL errors', () => {
    expect(refusal('SELECT * FROM a WHERE x = 1 OR y = 2')).toEqual([2, 'Operator OR is not yet implemented']);
    expect(refusal('SELECT * FROM a JOIN b ON a.x = b.x')).toEqual([2, 'JOIN is not yet implemented']);
    expect(refusal('SELECT COUNT(*) FROM a')).toEqual([2, 'Expressions in a table SELECT is not yet implemented']);
    expect(refusal('CREATE TABLE x (a int)')).toEqual([2, 'Command CREATE is not yet implemented']);
    expect(refusal('HELLO world')).toEqual([3, 'Syntax error in query']);
    expect(refusal('SELECT * FROM')).toEqual([3, 'Syntax error in query']);
  });
});
