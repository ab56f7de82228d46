/** The dialplan engine: which extension a SIP call reaches and what to do with it. */
export { hangupCauseToSip, isHangupCause, type HangupCause, type SipStatus } from './causes.js';
export type { Action, CallFields, DialplanResult } from './model.js';
export { DialplanError, loadDialplan, parseDialplan } from './parse.js';
export type { Dialplan } from './route.js';
