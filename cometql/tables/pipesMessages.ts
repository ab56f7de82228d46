import { requireValue, toEventName, toMessage, toPipeName } from '../values.js';
import { pipeNamesOf, removeEach, type Row, type Table } from './table.js';

/**
 * `pipes_messages (id, time, name, index, event, message, user_id)`: INSERT broadcasts to the pipe's
 * subscribers and keeps the message if the pipe has a history (`pipes_settings.length` > 0, or a `trust_`
 * pipe: 120 s). SELECT reads a history (`id` is the message's uuid, `index` counts the rows, `user_id` is
 * the browser that sent it with web_pipe2). DELETE by `name` and/or `id`.
 */
export const pipesMessages: Table = {
  name: 'pipes_messages',
  columns: [
    { name: 'id', type: 'text', sqlType: 'varchar(36)', key: true },
    { name: 'time', type: 'int', sqlType: 'int(11)' },
    { name: 'name', type: 'text', sqlType: 'varchar(64)', key: true },
    { name: 'index', type: 'int', sqlType: 'int(11)' },
    { name: 'event', type: 'text', sqlType: 'varchar(64)' },
    { name: 'message', type: 'text', sqlType: 'text' },
    { name: 'user_id', type: 'int', sqlType: 'int(11)' },
  ],
  requiredKeys: { select: ['name'], delete: [['name', 'id']] },

  async rows({ devId, messaging }, where) {
    // Without a name (a DELETE by id), every pipe's history is searched.
    const pipes = pipeNamesOf(where);
    const messages = await messaging.store.findPipeMessages(devId, pipes);
    return messages.map(
      (message, index): Row => ({
        id: message.id,
        time: Math.floor(message.time / 1000),
        name: message.pipe,
        index,
        event: message.event,
        message: message.message,
        user_id: message.userId,
      }),
    );
  },

  async insert({ devId, messaging }, values) {
    const pipe = toPipeName(requireValue(values, 'name'));
    const event = toEventName(requireValue(values, 'event'));
    const message = toMessage(requireValue(values, 'message'));
    await messaging.publish(devId, pipe, event, message);
    return { affectedRows: 1, insertId: 0 };
  },

  remove({ devId, messaging }, rows) {
    return removeEach(rows, (row) => messaging.store.deletePipeMessages(devId, String(row.name), [String(row.id)]));
  },
};
