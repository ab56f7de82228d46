import { readFileSync } from 'node:fs';
import { parse as parseIni } from 'ini';
import { ConfigError } from './config.js';
import { LAYOUT_NAMES, type LayoutName, type Profile, type VideoCodec } from './domain.js';

const PROFILE_NAME = /^[0-9A-Za-z\-_]{1,32}$/;
const KEYS = ['media', 'canvas', 'fps', 'codec', 'bitrate', 'layout', 'max_members', 'open'] as const;
/** Broadcast keys are optional: a profile without them does not broadcast. */
const BROADCAST_KEYS = ['broadcast_layout', 'rtmp', 'hls', 'll_hls', 'dash', 'record'] as const;

/** Reads conf/profiles.ini: one section per profile, every key required, so a profile never half-inherits. */
export function loadProfiles(file: string): Map<string, Profile> {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read profiles file ${file}: ${(error as Error).message}`);
  }
  const profiles = new Map<string, Profile>();
  for (const [name, section] of Object.entries(parseIni(raw) as Record<string, Record<string, unknown>>)) {
    const where = `${file} [${name}]`;
    if (!PROFILE_NAME.test(name)) throw new ConfigError(`${where}: a profile name is 1-32 characters of A-Za-z0-9_-`);
    profiles.set(name, parseProfile(name, section, where));
  }
  if (profiles.size === 0) throw new ConfigError(`${file}: no profile defined`);
  return profiles;
}

function parseProfile(name: string, section: Record<string, unknown>, where: string): Profile {
  for (const key of Object.keys(section)) {
    if (![...KEYS, ...BROADCAST_KEYS].includes(key as never)) throw new ConfigError(`${where}: unknown key "${key}"`);
  }
  type Key = (typeof KEYS)[number] | (typeof BROADCAST_KEYS)[number];
  const get = (key: Key, fallback?: string): string => {
    const value = section[key] ?? fallback;
    if (value === undefined) throw new ConfigError(`${where}: missing key "${key}"`);
    return String(value).trim();
  };
  const int = (key: (typeof KEYS)[number], min: number, max: number): number => {
    const value = Number(get(key));
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${where}: ${key} must be an integer from ${min} to ${max}`);
    }
    return value;
  };
  const choose = <T extends string>(key: Key, allowed: readonly T[], fallback?: T): T => {
    const value = get(key, fallback) as T;
    if (!allowed.includes(value)) throw new ConfigError(`${where}: ${key} must be one of ${allowed.join(', ')}`);
    return value;
  };
  const canvas = /^(\d{2,4})x(\d{2,4})$/.exec(get('canvas'));
  if (!canvas || Number(canvas[1]) % 2 !== 0 || Number(canvas[2]) % 2 !== 0) {
    throw new ConfigError(`${where}: canvas must be WIDTHxHEIGHT with even numbers, e.g. 1280x720`);
  }
  return {
    name,
    media: choose('media', ['video', 'audio'] as const),
    canvas: { width: Number(canvas[1]), height: Number(canvas[2]) },
    fps: int('fps', 1, 60),
    codec: choose<VideoCodec>('codec', ['VP8', 'H264']),
    videoBitrateKbps: int('bitrate', 0, 20_000),
    layout: choose<LayoutName>('layout', LAYOUT_NAMES),
    maxMembers: int('max_members', 1, 1000),
    open: choose('open', ['true', 'false'] as const) === 'true',
    broadcast: {
      layout: choose<LayoutName>('broadcast_layout', LAYOUT_NAMES, 'grid'),
      rtmp: urlOrNull(get('rtmp', ''), /^rtmps?:\/\//, `${where}: rtmp must be an rtmp:// or rtmps:// URL`),
      hls: choose('hls', ['on', 'off'] as const, 'off') === 'on',
      llHls: choose('ll_hls', ['on', 'off'] as const, 'off') === 'on',
      dash: choose('dash', ['on', 'off'] as const, 'off') === 'on',
      record: urlOrNull(get('record', ''), /^\//, `${where}: record must be an absolute file path`),
    },
  };
}

function urlOrNull(value: string, pattern: RegExp, error: string): string | null {
  if (value === '') return null;
  if (!pattern.test(value)) throw new ConfigError(error);
  return value;
}
