import { isLayoutName, LAYOUT_NAMES, type LayoutName, type Member, type MemberControls } from '../../src/domain.js';
import { CometQLError, ErrorCode } from '../errors.js';
import type { SqlValue } from '../statements.js';
import { idsOf, namesOf, requireValue, toFlag, toId, toName, toText } from '../values.js';
import { pace } from '../pace.js';
import { keyValues, removeEach, type Row, type Table } from './table.js';

/** Columns a backend may write; the others are live state. */
const CONTROL_COLUMNS = new Set(['audio', 'video', 'deaf', 'layout', 'watch']);

function toLayout(value: SqlValue): LayoutName | null {
  const text = toText(value).trim().toLowerCase();
  if (text === '' || text === 'default') return null;
  if (!isLayoutName(text)) throw CometQLError.invalid(`The layout field must be one of ${LAYOUT_NAMES.join(', ')} or default`);
  return text;
}

/** A comma-separated list of user ids, in the order the subscriber sees them; empty means the layout's choice. */
function toWatchList(value: SqlValue): number[] | null {
  const text = toText(value).trim();
  if (text === '') return null;
  return text.split(',').map((id) => toId(id.trim(), 'watch'));
}

function toControls(values: ReadonlyMap<string, SqlValue>): Partial<MemberControls> {
  const controls: Partial<MemberControls> = {};
  for (const [column, value] of values) {
    if (column === 'name' || column === 'user_id') continue;
    if (!CONTROL_COLUMNS.has(column)) {
      throw new CometQLError(ErrorCode.readOnly, `Column \`${column}\` of \`conference_members\` is read only`);
    }
    if (column === 'audio' || column === 'video' || column === 'deaf') controls[column] = toFlag(value, column);
    else if (column === 'layout') controls.layout = toLayout(value);
    else controls.watch = toWatchList(value);
  }
  return controls;
}

const seconds = (ms: number): number => Math.max(0, Math.floor(ms / 1000));

function memberRow(member: Member, now: number): Row {
  const { controls } = member;
  return {
    name: member.room,
    user_id: member.userId,
    join_time: seconds(now - member.joinedAt),
    last_talking: member.lastTalkingAt === null ? 0 : seconds(now - member.lastTalkingAt),
    audio: controls.audio ? 1 : 0,
    video: controls.video ? 1 : 0,
    deaf: controls.deaf ? 1 : 0,
    talking: member.talking ? 1 : 0,
    layout: controls.layout ?? '',
    watch: controls.watch?.join(',') ?? '',
    viewer: member.viewerOnly ? 1 : 0,
    profile: member.profile,
  };
}

/**
 * `conference_members`: who is in which room right now and what they do. join_time and last_talking are
 * seconds ago, as CppComet (FreeSWITCH) reported them. UPDATE and INSERT (an upsert that also works before
 * the user joins) set controls; DELETE kicks.
 */
export const conferenceMembers: Table = {
  name: 'conference_members',
  columns: [
    { name: 'name', type: 'text', sqlType: 'varchar(64)', key: true },
    { name: 'user_id', type: 'int', sqlType: 'int(11)', key: true },
    { name: 'join_time', type: 'int', sqlType: 'int(11)' },
    { name: 'last_talking', type: 'int', sqlType: 'int(11)' },
    { name: 'audio', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'video', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'deaf', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'talking', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'layout', type: 'text', sqlType: 'varchar(16)' },
    { name: 'watch', type: 'text', sqlType: 'varchar(255)' },
    { name: 'viewer', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'profile', type: 'text', sqlType: 'varchar(32)' },
  ],
  requiredKeys: {},

  async rows({ devId, model }, where) {
    const members = await model.findMembers(devId, {
      rooms: namesOf(keyValues(where, 'name')),
      userIds: idsOf(keyValues(where, 'user_id')),
    });
    const now = Date.now();
    return members.map((member) => memberRow(member, now));
  },

  async insert({ devId, model }, values) {
    const room = toName(requireValue(values, 'name'), 'name');
    const userId = toId(requireValue(values, 'user_id'), 'user_id');
    await model.presetControls(devId, room, userId, toControls(values));
    return { affectedRows: 1, insertId: 0 };
  },

  async update({ devId, model }, rows, changes) {
    const controls = toControls(changes);
    let changed = 0;
    for (const row of rows) {
      await pace();
      const member = await model.updateControls(devId, String(row.name), Number(row.user_id), controls);
      const after = member && memberRow(member, Date.now());
      if (after && [...CONTROL_COLUMNS].some((column) => after[column] !== row[column])) changed++;
    }
    return { matched: rows.length, changed };
  },

  remove({ devId, model }, rows) {
    return removeEach(rows, async (row) => (await model.leave(devId, String(row.name), Number(row.user_id), 'kicked')) !== undefined);
  },
};
