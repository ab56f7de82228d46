import { pipeNamesOf, type Row, type Table } from './table.js';

/**
 * `users_in_pipes (name, user_id, user_uuid, user_agent, ip, origin, language)`, read-only: one row per
 * socket subscribed to the pipe (user_id 0 for a socket without a valid key), from its URL and HTTP headers.
 */
export const usersInPipes: Table = {
  name: 'users_in_pipes',
  columns: [
    { name: 'name', type: 'text', sqlType: 'varchar(64)', key: true },
    { name: 'user_id', type: 'int', sqlType: 'int(11)' },
    { name: 'user_uuid', type: 'text', sqlType: 'varchar(32)' },
    { name: 'user_agent', type: 'text', sqlType: 'varchar(255)' },
    { name: 'ip', type: 'text', sqlType: 'varchar(45)' },
    { name: 'origin', type: 'text', sqlType: 'varchar(255)' },
    { name: 'language', type: 'text', sqlType: 'varchar(64)' },
  ],
  requiredKeys: { select: ['name'] },

  async rows({ devId, messaging }, where) {
    const names = new Set(pipeNamesOf(where)!);
    return [...names].flatMap((name) =>
      [...messaging.pipes.subscribers(devId, name)].map(
        (client): Row => ({
          name,
          user_id: client.userId,
          user_uuid: client.uuid,
          user_agent: client.info.userAgent,
          ip: client.info.ip,
          origin: client.info.origin,
          language: client.info.language,
        }),
      ),
    );
  },
};
