import { pipeNamesOf, type Row, type Table } from './table.js';

/** `pipes (name, users)`, read-only: how many sockets are subscribed to each pipe named (0 if none). */
export const pipes: Table = {
  name: 'pipes',
  columns: [
    { name: 'name', type: 'text', sqlType: 'varchar(64)', key: true },
    { name: 'users', type: 'int', sqlType: 'int(11)' },
  ],
  requiredKeys: { select: ['name'] },

  async rows({ devId, messaging }, where) {
    const names = new Set(pipeNamesOf(where)!);
    return [...names].map((name): Row => ({ name, users: messaging.pipes.subscribers(devId, name).size }));
  },
};
