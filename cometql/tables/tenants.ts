import type { DevId } from '../../src/domain.js';
import { CometQLError, ErrorCode } from '../errors.js';
import { storedPasswordHash } from '../handshake.js';
import type { SqlValue } from '../statements.js';
import { idsOf, requireValue, toId, toText } from '../values.js';
import { keyValues, removeEach, updateColumn, type Row, type Table } from './table.js';

/** A tenant's password is kept as an unsalted SHA1(SHA1()) (what MySQL clients can log in with): it must be long. */
const PASSWORD_MIN_LENGTH = 8;
const PASSWORD_MAX_BYTES = 255;

function tenantOf(value: SqlValue, devIndexSize: number): DevId {
  const devId = toId(value, 'dev_id');
  if (devId === 0) throw CometQLError.invalid('dev_id 0 is root: its password is [main] password');
  if (devId >= devIndexSize) throw CometQLError.invalid(`The dev_id field must be below ${devIndexSize} ([main] dev_index_size)`);
  return devId;
}

function passwordHash(value: SqlValue): string {
  const password = toText(value);
  if (password.length < PASSWORD_MIN_LENGTH) {
    throw CometQLError.invalid(`The password field must have at least ${PASSWORD_MIN_LENGTH} characters`);
  }
  if (Buffer.byteLength(password) > PASSWORD_MAX_BYTES) throw new CometQLError(ErrorCode.overflow, 'The password field is too long');
  return storedPasswordHash(password);
}

/**
 * `tenants (dev_id, password)`: root's list of tenants with a password of their own. Such a tenant logs in
 * with it (user name = dev_id) and reaches only its own data. The password is write-only: it is kept as
 * MySQL keeps one, and a SELECT shows NULL for it.
 */
export const tenants: Table = {
  name: 'tenants',
  rootOnly: true,
  columns: [
    { name: 'dev_id', type: 'int', sqlType: 'int(11)', key: true },
    { name: 'password', type: 'text', sqlType: 'varchar(255)' },
  ],
  requiredKeys: { delete: ['dev_id'], update: ['dev_id'] },

  async rows({ tenants }, where) {
    return (await tenants.find(idsOf(keyValues(where, 'dev_id')))).map((devId): Row => ({ dev_id: devId }));
  },

  async insert({ tenants, devIndexSize }, values) {
    const devId = tenantOf(requireValue(values, 'dev_id'), devIndexSize);
    await tenants.put(devId, passwordHash(requireValue(values, 'password')));
    return { affectedRows: 1, insertId: devId };
  },

  update({ tenants }, rows, changes) {
    return updateColumn('tenants', rows, changes, { key: 'dev_id', value: 'password' }, passwordHash, (row, hash) =>
      tenants.put(Number(row.dev_id), hash),
    );
  },

  remove({ tenants }, rows) {
    return removeEach(rows, (row) => tenants.delete(Number(row.dev_id)));
  },
};
