import { idsOf, requireValue, toEventName, toId, toMessage } from '../values.js';
import { keyValues, removeEach, type Row, type Table } from './table.js';

/**
 * `users_messages (id, index, event, message)`: personal messages. INSERT sends to every socket of user
 * `id` (pipe `msg`), or queues the message while the user is offline; SELECT shows the queue (`index` is
 * the message's uuid, as in CppComet); DELETE empties it.
 */
export const usersMessages: Table = {
  name: 'users_messages',
  columns: [
    { name: 'id', type: 'int', sqlType: 'int(11)', key: true },
    { name: 'index', type: 'text', sqlType: 'varchar(36)' },
    { name: 'event', type: 'text', sqlType: 'varchar(64)' },
    { name: 'message', type: 'text', sqlType: 'text' },
  ],
  requiredKeys: { select: ['id'], delete: ['id'] },

  async rows({ devId, messaging }, where) {
    const queued = await messaging.store.findQueued(devId, idsOf(keyValues(where, 'id'))!);
    return queued.map((message): Row => ({ id: message.userId, index: message.id, event: message.event, message: message.message }));
  },

  async insert({ devId, messaging }, values) {
    const userId = toId(requireValue(values, 'id'), 'id');
    const event = toEventName(requireValue(values, 'event'));
    const message = toMessage(requireValue(values, 'message'));
    await messaging.sendToUser(devId, userId, event, message);
    return { affectedRows: 1, insertId: userId };
  },

  remove({ devId, messaging }, rows) {
    return removeEach(rows, (row) => messaging.store.deleteQueued(devId, Number(row.id), [String(row.index)]));
  },
};
