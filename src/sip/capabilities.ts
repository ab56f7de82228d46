/** What this user agent server says about itself in OPTIONS, 405 and dialog-creating responses. */
import { VERSION } from '../version.js';
import type { HeaderList } from './message.js';

export const ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'REGISTER'] as const;

/** Known SIP methods we do not serve: 405 with Allow, rather than 501 for methods we have never heard of. */
export const REFUSED_METHODS = new Set(['MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'PUBLISH', 'PRACK']);

export const SERVER_HEADER: HeaderList = [['Server', `cometmcu/${VERSION}`]];

export const CAPABILITY_HEADERS: HeaderList = [
  ['Allow', ALLOWED_METHODS.join(', ')],
  ['Accept', 'application/sdp, application/dtmf-relay'],
  ...SERVER_HEADER,
];
