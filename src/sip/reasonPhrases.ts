/** RFC 3261 reason phrases of the responses we send, as FreeSWITCH words them. */
export const REASON_PHRASES = {
  100: 'Trying',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  410: 'Gone',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  603: 'Decline',
} as const;

/** The phrase of any status, 'Unknown' for one we never send. */
export function reasonPhrase(status: number): string {
  return (REASON_PHRASES as Readonly<Record<number, string | undefined>>)[status] ?? 'Unknown';
}
