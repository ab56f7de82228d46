import { CometQLError, ErrorCode } from '../errors.js';
import type { SqlValue } from '../statements.js';
import { idsOf, requireValue, toId, toText } from '../values.js';
import { keyValues, type Row, type Table } from './table.js';

const HASH_CHARACTERS = /^[0-9A-Za-z=+/_]+$/;
const HASH_MAX_LENGTH = 32;

function validHash(value: SqlValue): string {
  const hash = toText(value);
  if (hash.length > HASH_MAX_LENGTH) throw new CometQLError(ErrorCode.overflow, 'Hash string is too long');
  if (!HASH_CHARACTERS.test(hash)) throw CometQLError.invalid('Contains an invalid characters in the string hash');
  return hash;
}

function validUserId(value: SqlValue): number {
  const id = toId(value, 'id');
  if (id === 0) throw CometQLError.invalid('The id field must be non-negative');
  return id;
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
    const userId = validUserId(requireValue(values, 'id'));
    const hash = validHash(requireValue(values, 'hash'));
    await model.setKey({ devId, userId, hash });
    return { affectedRows: 1, insertId: userId };
  },

  async update({ devId, model }, rows, changes) {
    if (changes.has('id')) throw new CometQLError(ErrorCode.readOnly, 'Column `id` of `users_auth` is read only');
    const hash = validHash(requireValue(changes, 'hash'));
    let changed = 0;
    for (const row of rows) {
      if (row.hash === hash) continue;
      await model.setKey({ devId, userId: Number(row.id), hash });
      changed++;
    }
    return { matched: rows.length, changed };
  },

  async remove({ devId, model }, rows) {
    let removed = 0;
    for (const row of rows) if (await model.revokeKey(devId, Number(row.id))) removed++;
    return removed;
  },
};
