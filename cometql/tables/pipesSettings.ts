import { historyLength } from '../../src/messaging/history.js';
import type { SqlValue } from '../statements.js';
import { requireValue, toId, toPipeName } from '../values.js';
import { pipeNamesOf, removeEach, updateColumn, type Row, type Table } from './table.js';

const toLength = (value: SqlValue): number => historyLength(toId(value, 'length'));

/**
 * `pipes_settings (name, length)`: how many messages a pipe's history keeps (0…1000; 0 keeps none).
 * INSERT is an upsert; DELETE removes the setting and the history with it.
 */
export const pipesSettings: Table = {
  name: 'pipes_settings',
  columns: [
    { name: 'name', type: 'text', sqlType: 'varchar(64)', key: true },
    { name: 'length', type: 'int', sqlType: 'int(11)' },
  ],
  requiredKeys: { select: ['name'], delete: ['name'], update: ['name'] },

  async rows({ devId, messaging }, where) {
    const names = pipeNamesOf(where)!;
    const lengths = await messaging.store.pipeLengths.find(devId, names);
    return [...lengths].map(([name, length]): Row => ({ name, length }));
  },

  async insert({ devId, messaging }, values) {
    const pipe = toPipeName(requireValue(values, 'name'));
    const length = values.has('length') ? toLength(values.get('length')!) : 0;
    await messaging.history.setLength(devId, pipe, length);
    return { affectedRows: 1, insertId: 0 };
  },

  update({ devId, messaging }, rows, changes) {
    return updateColumn('pipes_settings', rows, changes, { key: 'name', value: 'length' }, toLength, (row, length) =>
      messaging.history.setLength(devId, String(row.name), length),
    );
  },

  remove({ devId, messaging }, rows) {
    return removeEach(rows, (row) => messaging.history.forget(devId, String(row.name)));
  },
};
