import { REASON_PHRASES } from '../src/sip/reasonPhrases.js';

/**
 * The hangup causes a dialplan may end a call with (FreeSWITCH's Q.850 names) and the SIP response that ends
 * an unanswered call with each one: the mapping of FreeSWITCH's mod_sofia (`hangup_cause_to_sip`), so callers
 * see the same status codes they saw from CppComet's FreeSWITCH.
 */
const SIP_STATUS_BY_CAUSE = {
  // FreeSWITCH has no entry for these three and falls back to 480.
  NORMAL_CLEARING: 480,
  USER_NOT_REGISTERED: 480,
  SERVICE_UNAVAILABLE: 480,
  UNALLOCATED_NUMBER: 404,
  NO_ROUTE_DESTINATION: 404,
  USER_BUSY: 486,
  NO_USER_RESPONSE: 408,
  NO_ANSWER: 480,
  SUBSCRIBER_ABSENT: 480,
  CALL_REJECTED: 603,
  NUMBER_CHANGED: 410,
  DESTINATION_OUT_OF_ORDER: 502,
  INVALID_NUMBER_FORMAT: 484,
  FACILITY_REJECTED: 501,
  NORMAL_UNSPECIFIED: 480,
  NORMAL_CIRCUIT_CONGESTION: 503,
  NORMAL_TEMPORARY_FAILURE: 503,
  SWITCH_CONGESTION: 503,
  OUTGOING_CALL_BARRED: 403,
  INCOMING_CALL_BARRED: 403,
  INCOMPATIBLE_DESTINATION: 488,
  RECOVERY_ON_TIMER_EXPIRE: 504,
} as const;

export type HangupCause = keyof typeof SIP_STATUS_BY_CAUSE;

export interface SipStatus {
  status: number;
  reason: string;
}

export function isHangupCause(name: string): name is HangupCause {
  return Object.hasOwn(SIP_STATUS_BY_CAUSE, name);
}

/** The final response to an INVITE that the dialplan hangs up before answering. */
export function hangupCauseToSip(cause: HangupCause): SipStatus {
  const status = SIP_STATUS_BY_CAUSE[cause];
  return { status, reason: REASON_PHRASES[status] };
}
