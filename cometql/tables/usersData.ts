import { idsOf, requireValue, toMessage, toUserId } from '../values.js';
import { keyValues, removeEach, updateColumn, type Row, type Table } from './table.js';

/** `users_data (id, data)`: a text per user (a profile, say) that browsers read with `user_data`. */
export const usersData: Table = {
  name: 'users_data',
  columns: [
    { name: 'id', type: 'int', sqlType: 'int(11)', key: true },
    { name: 'data', type: 'text', sqlType: 'text' },
  ],
  requiredKeys: { select: ['id'], delete: ['id'], update: ['id'] },

  async rows({ devId, messaging }, where) {
    const found = await messaging.store.userData.find(devId, idsOf(keyValues(where, 'id'))!);
    return [...found].map(([id, data]): Row => ({ id, data }));
  },

  async insert({ devId, messaging }, values) {
    const userId = toUserId(requireValue(values, 'id'), 'id');
    await messaging.store.userData.put(devId, userId, toMessage(requireValue(values, 'data')));
    return { affectedRows: 1, insertId: userId };
  },

  update({ devId, messaging }, rows, changes) {
    return updateColumn('users_data', rows, changes, { key: 'id', value: 'data' }, toMessage, (row, data) =>
      messaging.store.userData.put(devId, Number(row.id), data),
    );
  },

  remove({ devId, messaging }, rows) {
    return removeEach(rows, (row) => messaging.store.userData.delete(devId, Number(row.id)));
  },
};
