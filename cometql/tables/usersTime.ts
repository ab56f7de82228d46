import { idsOf } from '../values.js';
import { keyValues, type Row, type Table } from './table.js';

/**
 * `users_time (id, time)`, read-only: one row per id asked for; 0 while the user has a socket open here,
 * else the unix time their last socket closed, or -1 if they were never seen.
 */
export const usersTime: Table = {
  name: 'users_time',
  columns: [
    { name: 'id', type: 'int', sqlType: 'int(11)', key: true },
    { name: 'time', type: 'int', sqlType: 'int(11)' },
  ],
  requiredKeys: { select: ['id'] },

  async rows({ devId, messaging }, where) {
    const ids = [...new Set(idsOf(keyValues(where, 'id')))];
    const times = await messaging.usersTime(devId, ids);
    return ids.map((id): Row => ({ id, time: times.get(id)! }));
  },
};
