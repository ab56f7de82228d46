import { MAX_MESSAGE_BYTES } from '../src/messaging/frames.js';
import { nameProblem, pipeNameProblem } from '../src/messaging/names.js';
import { CometQLError, ErrorCode } from './errors.js';
import type { SqlValue } from './statements.js';

/** Checks and converts the values of INSERT/UPDATE, with CppComet's messages. */

export function requireValue(values: ReadonlyMap<string, SqlValue>, field: string): SqlValue {
  const value = values.get(field);
  if (value === undefined || value === null || value === '') throw CometQLError.required(field);
  return value;
}

/** A non-negative integer id (`user_id`, `caller_id`); strings of digits count, as CppComet read them. */
export function toId(value: SqlValue, field: string): number {
  const number = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw CometQLError.invalid(`The ${field} field must be an integer`);
  }
  if (number < 0) throw CometQLError.invalid(`The ${field} field must be non-negative`);
  return number;
}

/** A user id that must be positive (CppComet's message says "non-negative" for 0 too). */
export function toUserId(value: SqlValue, field: string): number {
  const id = toId(value, field);
  if (id === 0) throw CometQLError.invalid(`The ${field} field must be non-negative`);
  return id;
}

/** A 0/1 flag; also accepts true/false. */
export function toFlag(value: SqlValue, field: string): boolean {
  const text = String(value).trim().toLowerCase();
  if (text === '1' || text === 'true') return true;
  if (text === '0' || text === 'false') return false;
  throw CometQLError.invalid(`The ${field} field must be 0 or 1`);
}

export function toText(value: SqlValue): string {
  return value === null ? '' : String(value);
}

/** A room name: 1-64 characters of A-Za-z0-9_- (CppComet's rule for channel names). */
export function toName(value: SqlValue, field: string): string {
  const text = toText(value);
  switch (nameProblem(text, 1)) {
    case 'too-short':
      throw CometQLError.required(field);
    case 'too-long':
      throw new CometQLError(ErrorCode.overflow, `The ${field} field is too long`);
    case 'characters':
      throw CometQLError.invalid(`The ${field} field can contain only the characters A-Za-z0-9_-`);
  }
  return text;
}

/** CppComet's text for a pipe or event name with other characters. */
const CHANNEL_CHARACTERS = 'The channel name can contain only the characters A-Za-z0-9_-';

/** A pipe name: 3-64 characters of A-Za-z0-9_-, with CppComet's errors. */
export function toPipeName(value: SqlValue): string {
  const name = toText(value);
  switch (pipeNameProblem(name)) {
    case 'too-long':
      throw new CometQLError(ErrorCode.overflow, 'Channel name is too long');
    case 'too-short':
      throw new CometQLError(ErrorCode.empty, 'Channel name is too short');
    case 'characters':
      throw CometQLError.invalid(CHANNEL_CHARACTERS);
  }
  return name;
}

/** An event name: 1-64 characters of A-Za-z0-9_-, with CppComet's errors. */
export function toEventName(value: SqlValue): string {
  const name = toText(value);
  switch (nameProblem(name, 1)) {
    case 'too-long':
      throw new CometQLError(ErrorCode.overflow, 'Channel event_name is too long');
    case 'too-short':
      throw CometQLError.required('event');
    case 'characters':
      throw CometQLError.invalid(CHANNEL_CHARACTERS);
  }
  return name;
}

/** Message text for browsers, at most 64 KiB. */
export function toMessage(value: SqlValue): string {
  const text = toText(value);
  if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) throw new CometQLError(ErrorCode.overflow, 'Data is too long');
  return text;
}

/** Key values of a WHERE as ids; values that cannot be ids match nothing, as in CppComet. */
export function idsOf(values: readonly SqlValue[] | undefined): number[] | undefined {
  return values?.map(Number).filter((id) => Number.isSafeInteger(id) && id >= 0);
}

export function namesOf(values: readonly SqlValue[] | undefined): string[] | undefined {
  return values?.map(toText);
}
