/**
 * CometQL errors: CppComet's own error codes and message texts (spec 1.8), sent as MySQL ERR packets
 * with a real SQLSTATE. Our additions keep the same codes and the same style of wording.
 */
export const ErrorCode = {
  notImplemented: 2,
  syntax: 3,
  readOnly: 10,
  overflow: 11,
  invalidData: 12,
  whereColumns: 13,
  columnsList: 14,
  notExist: 15,
  auth: 16,
  empty: 17,
  accessDenied: 403,
  internal: 500,
  /** MySQL's ER_CON_COUNT_ERROR: clients and pools know this one by number. */
  tooManyConnections: 1040,
  /** MySQL's ER_ACCESS_DENIED_ERROR: a login refused, here without a look at its password (too many failures). */
  accessDeniedLogin: 1045,
} as const;

export class CometQLError extends Error {
  override name = 'CometQLError';
  /** What exactly was wrong, for the debug log; the client gets CppComet's message. */
  detail: string | undefined;
  constructor(
    readonly code: number,
    message: string,
    readonly sqlState: string = 'HY000',
  ) {
    super(message);
  }

  /** CppComet's exact "Syntax error in query", under SQLSTATE 42000; `detail` goes to the debug log only. */
  static syntax(detail?: string): CometQLError {
    const error = new CometQLError(ErrorCode.syntax, 'Syntax error in query', '42000');
    error.detail = detail;
    return error;
  }

  static notImplemented(what: string): CometQLError {
    return new CometQLError(ErrorCode.notImplemented, `${what} is not yet implemented`);
  }

  static required(field: string): CometQLError {
    return new CometQLError(ErrorCode.invalidData, `field \`${field}\` is required`);
  }

  static invalid(message: string): CometQLError {
    return new CometQLError(ErrorCode.invalidData, message);
  }

  static tableNotFound(): CometQLError {
    return new CometQLError(ErrorCode.notExist, "Table doesn't exist");
  }

  static unknownColumn(): CometQLError {
    return new CometQLError(ErrorCode.columnsList, 'Not a specific column');
  }

  /** CometQL's 403 "Access denied", saying to what. */
  static accessDenied(what: string): CometQLError {
    return new CometQLError(ErrorCode.accessDenied, `Access denied ${what}`, '42000');
  }

  static keyRequired(action: 'Selection' | 'Deleting' | 'Updating'): CometQLError {
    return new CometQLError(
      ErrorCode.whereColumns,
      `${action} without transferring the requested values of the primary key is not supported`,
    );
  }
}
