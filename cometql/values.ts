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

const NAME_CHARACTERS = /^[A-Za-z0-9_-]+$/;

/** A room or pipe name: 1-64 characters of A-Za-z0-9_- (CppComet's rule for channel names). */
export function toName(value: SqlValue, field: string): string {
  const text = toText(value);
  if (text.length === 0) throw CometQLError.required(field);
  if (text.length > 64) throw new CometQLError(ErrorCode.overflow, `The ${field} field is too long`);
  if (!NAME_CHARACTERS.test(text)) throw CometQLError.invalid(`The ${field} field can contain only the characters A-Za-z0-9_-`);
  return text;
}

/** Key values of a WHERE as ids; values that cannot be ids match nothing, as in CppComet. */
export function idsOf(values: readonly SqlValue[] | undefined): number[] | undefined {
  return values?.map(Number).filter((id) => Number.isSafeInteger(id) && id >= 0);
}

export function namesOf(values: readonly SqlValue[] | undefined): string[] | undefined {
  return values?.map(toText);
}
