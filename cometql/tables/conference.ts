import { CometQLError } from '../errors.js';
import { idsOf, namesOf, requireValue, toFlag, toId, toName, toText } from '../values.js';
import { keyValues, removeEach, type Row, type Table } from './table.js';

/**
 * `conference (name, user_id, caller_id, message, profile, stream, node)`: invitations. INSERT invites
 * (the browser hears `sys_sipCall`), DELETE withdraws the invitation and hangs the user up if they are in.
 */
export const conference: Table = {
  name: 'conference',
  columns: [
    { name: 'name', type: 'text', sqlType: 'varchar(64)', key: true },
    { name: 'user_id', type: 'int', sqlType: 'int(11)', key: true },
    { name: 'caller_id', type: 'int', sqlType: 'int(11)' },
    { name: 'message', type: 'text', sqlType: 'text' },
    { name: 'profile', type: 'text', sqlType: 'varchar(32)' },
    { name: 'stream', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'node', type: 'text', sqlType: 'varchar(64)' },
  ],
  requiredKeys: { delete: ['name'] },

  async rows({ devId, model }, where) {
    const invitations = await model.findInvitations(devId, {
      rooms: namesOf(keyValues(where, 'name')),
      userIds: idsOf(keyValues(where, 'user_id')),
    });
    return invitations.map(
      (invitation): Row => ({
        name: invitation.room,
        user_id: invitation.userId,
        caller_id: invitation.callerId,
        message: invitation.message,
        profile: invitation.profile,
        stream: invitation.viewerOnly ? 1 : 0,
        node: invitation.node,
      }),
    );
  },

  async insert({ devId, model }, values) {
    const room = toName(requireValue(values, 'name'), 'name');
    const userId = toId(requireValue(values, 'user_id'), 'user_id');
    const message = toText(requireValue(values, 'message'));
    const callerId = values.has('caller_id') ? toId(values.get('caller_id') ?? 0, 'caller_id') : 0;
    const profile = toText(values.get('profile') ?? '') || 'default';
    if (!model.profile(profile)) throw CometQLError.invalid(`The profile "${profile}" does not exist`);
    const stream = values.get('stream');
    const viewerOnly = stream === undefined || stream === null || stream === '' ? false : toFlag(stream, 'stream');
    await model.inviteUser({ devId, room, userId, callerId, message, profile, viewerOnly });
    return { affectedRows: 1, insertId: 0 };
  },

  async remove({ devId, model }, rows) {
    return removeEach(rows, async (row) => {
      await model.uninvite(devId, String(row.name), Number(row.user_id));
      return true;
    });
  },
};
