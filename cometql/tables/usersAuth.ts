import { CometQLError, ErrorCode } from '../errors.js';
import type { SqlValue } from '../statements.js';
import { idsOf, requireValue, toText, toUserId } from '../values.js';
import { keyValues, removeEach, updateColumn, type Row, type Table } from './table.js';

const HASH_CHARACTERS = /^[0-9A-Za-z=+/_]+$/;
const HASH_MAX_LENGTH = 32;
/**
 * The key is the browser's login and the SIP password: a one-character key falls in a few dozen guesses.
 * The login throttles hold guessing back; this refuses keys no throttle can save. CppComet set no minimum;
 * our examples make 32 hex digits, and 4 (`key1`) is the shortest the project's own tests use.
 */
const HASH_MIN_LENGTH = 4;

function validHash(value: SqlValue): string {
  const hash = toText(value);
  if (hash.length > HASH_MAX_LENGTH) throw new CometQLError(ErrorCode.overflow, 'Hash string is too long');
  if (!HASH_CHARACTERS.test(hash)) throw CometQLError.invalid('Contains an invalid characters in the string hash');
  if (hash.length < HASH_MIN_LENGTH) throw new CometQLError(ErrorCode.empty, `Hash string is too short: at least ${HASH_MIN_LENGTH} characters`);
  return hash;
}

/** `users_auth (id, hash)`: the key a user's browser authenticates with; also their SIP password. */
export const usersAuth: Table = {
  name: 'users_auth',
  columns: [
    { name: 'id', type: 'int', sqlType: 'int(11)', key: true },
    { name: 'hash', type: 'text', sqlType: 'varchar(32)' },
  ],
  requiredKeys: { select: ['id'], delete: ['id'], update: ['id'] },

  async rows({ devId, model }, where) {
    const ids = idsOf(keyValues(where, 'id'))!.filter((id) => id > 0);
    return (await model.findKeys(devId, ids)).map((key): Row => ({ id: key.userId, hash: key.hash }));
  },

  async insert({ devId, model }, values) {
    const userId = toUserId(requireValue(values, 'id'), 'id');
    const hash = validHash(requireValue(values, 'hash'));
    await model.setKey({ devId, userId, hash });
    return { affectedRows: 1, insertId: userId };
  },

  update({ devId, model }, rows, changes) {
    return updateColumn('users_auth', rows, changes, { key: 'id', value: 'hash' }, validHash, (row, hash) =>
      model.setKey({ devId, userId: Number(row.id), hash }),
    );
  },

  remove({ devId, model }, rows) {
    return removeEach(rows, (row) => model.revokeKey(devId, Number(row.id)));
  },
};
