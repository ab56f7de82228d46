import { isLayoutName, LAYOUT_NAMES, type BroadcastSettings } from '../../src/domain.js';
import { CometQLError } from '../errors.js';
import type { SqlValue } from '../statements.js';
import { namesOf, requireValue, toFlag, toName, toText } from '../values.js';
import { keyValues, removeEach, type Row, type Table, type TableContext } from './table.js';

const SETTING_COLUMNS = ['rtmp', 'hls', 'll_hls', 'dash', 'record', 'layout', 'private'] as const;
const NO_BROADCAST: BroadcastSettings = { layout: 'grid', rtmp: null, hls: false, llHls: false, dash: false, record: null };

/** Checks and applies the written columns over `base` (a room's current settings, or none). */
function settingsFrom(values: ReadonlyMap<string, SqlValue>, base: BroadcastSettings): BroadcastSettings {
  const settings = { ...base };
  for (const [column, value] of values) {
    if (column === 'name') continue;
    if (!(SETTING_COLUMNS as readonly string[]).includes(column)) {
      throw CometQLError.invalid(`Column \`${column}\` of \`conference_broadcast\` is read only`);
    }
    const text = toText(value).trim();
    if (column === 'rtmp') {
      if (text && !/^rtmps?:\/\/\S+$/.test(text)) throw CometQLError.invalid('The rtmp field must be an rtmp:// or rtmps:// URL');
      settings.rtmp = text || null;
    } else if (column === 'record') {
      if (text && !/^\/\S+$/.test(text)) throw CometQLError.invalid('The record field must be an absolute file path');
      settings.record = text || null;
    } else if (column === 'layout') {
      if (!isLayoutName(text)) throw CometQLError.invalid(`The layout field must be one of ${LAYOUT_NAMES.join(', ')}`);
      settings.layout = text;
    } else if (column === 'll_hls') {
      settings.llHls = toFlag(value, column);
    } else if (column === 'private') {
      settings.private = toFlag(value, column);
    } else {
      settings[column as 'hls' | 'dash'] = toFlag(value, column);
    }
  }
  return settings;
}

/** Rooms with their own settings and rooms broadcasting now, one row each. */
async function roomsOf({ devId, model, viewerTokens }: TableContext, rooms: string[] | undefined): Promise<Row[]> {
  const own = new Map((await model.findBroadcastSettings(devId, rooms)).map(({ room, settings }) => [room, settings]));
  const live = new Map(model.liveBroadcasts(devId).map((broadcast) => [broadcast.room, broadcast]));
  const names = [...new Set([...own.keys(), ...live.keys()])].filter((room) => !rooms || rooms.includes(room));
  return names.map((room): Row => {
    const settings = live.get(room)?.settings ?? own.get(room)!;
    const outputs = live.get(room)?.outputs ?? [];
    // A private broadcast's URLs carry a fresh viewer token: what the backend hands its viewers.
    const url = (path: string): string => `/hls/${devId}/${room}/${path}${settings.private ? `?token=${viewerTokens.issue(devId, room)}` : ''}`;
    return {
      name: room,
      rtmp: settings.rtmp ?? '',
      hls: settings.hls ? 1 : 0,
      ll_hls: settings.llHls ? 1 : 0,
      dash: settings.dash ? 1 : 0,
      record: settings.record ?? '',
      layout: settings.layout,
      private: settings.private ? 1 : 0,
      own: own.has(room) ? 1 : 0,
      active: live.has(room) ? 1 : 0,
      outputs: outputs.map((output) => `${output.kind}:${output.running ? 'running' : 'retrying'}`).join(','),
      // The file being recorded now, its template filled in: where a backend finds it afterwards.
      record_file: outputs.find((output) => output.kind === 'record')?.target ?? '',
      hls_url: live.has(room) && (settings.hls || settings.llHls) ? url('index.m3u8') : '',
      dash_url: live.has(room) && settings.dash ? url('index.mpd') : '',
    };
  });
}

/**
 * `conference_broadcast`: where rooms are broadcast. A row written here gives a room its own settings in
 * place of its profile's (a live room follows at once); DELETE gives it back its profile's. SELECT also
 * lists every room broadcasting now, with the state of each output. `private = 1`: its embedded HLS/DASH
 * is served only with the viewer token its `hls_url` and `dash_url` carry.
 */
export const conferenceBroadcast: Table = {
  name: 'conference_broadcast',
  columns: [
    { name: 'name', type: 'text', sqlType: 'varchar(64)', key: true },
    { name: 'rtmp', type: 'text', sqlType: 'varchar(255)' },
    { name: 'hls', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'll_hls', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'dash', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'record', type: 'text', sqlType: 'varchar(255)' },
    { name: 'layout', type: 'text', sqlType: 'varchar(16)' },
    { name: 'private', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'own', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'active', type: 'int', sqlType: 'tinyint(1)' },
    { name: 'outputs', type: 'text', sqlType: 'varchar(255)' },
    { name: 'record_file', type: 'text', sqlType: 'varchar(255)' },
    { name: 'hls_url', type: 'text', sqlType: 'varchar(255)' },
    { name: 'dash_url', type: 'text', sqlType: 'varchar(255)' },
  ],
  requiredKeys: { delete: ['name'] },

  rows(context, where) {
    return roomsOf(context, namesOf(keyValues(where, 'name')));
  },

  async insert({ devId, model }, values) {
    const room = toName(requireValue(values, 'name'), 'name');
    await model.setBroadcastSettings(devId, room, settingsFrom(values, NO_BROADCAST));
    return { affectedRows: 1, insertId: 0 };
  },

  async update({ devId, model }, rows, changes) {
    const names = rows.map((row) => String(row.name));
    const own = new Map((await model.findBroadcastSettings(devId, names)).map(({ room, settings }) => [room, settings]));
    const live = new Map(model.liveBroadcasts(devId).map((broadcast) => [broadcast.room, broadcast.settings]));
    let changed = 0;
    for (const room of names) {
      const next = settingsFrom(changes, own.get(room) ?? live.get(room) ?? NO_BROADCAST);
      if (JSON.stringify(next) === JSON.stringify(own.get(room))) continue;
      await model.setBroadcastSettings(devId, room, next);
      changed++;
    }
    return { matched: rows.length, changed };
  },

  remove({ devId, model }, rows) {
    return removeEach(rows, (row) => model.setBroadcastSettings(devId, String(row.name), null));
  },
};
