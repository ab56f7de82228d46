import { describe, it, expect } from 'vitest';
import { hangupCauseToSip, isHangupCause, type HangupCause } from '../../dialplan/index.js';

describe('hangupCauseToSip (FreeSWITCH mod_sofia mapping)', () => {
  it.each<[HangupCause, number, string]>([
    ['NORMAL_CLEARING', 480, 'Temporarily Unavailable'],
    ['UNALLOCATED_NUMBER', 404, 'Not Found'],
    ['NO_ROUTE_DESTINATION', 404, 'Not Found'],
    ['USER_BUSY', 486, 'Busy Here'],
    ['NO_USER_RESPONSE', 408, 'Request Timeout'],
    ['USER_NOT_REGISTERED', 480, 'Temporarily Unavailable'],
    ['CALL_REJECTED', 603, 'Decline'],
    ['INCOMPATIBLE_DESTINATION', 488, 'Not Acceptable Here'],
    ['NORMAL_TEMPORARY_FAILURE', 503, 'Service Unavailable'],
    ['SERVICE_UNAVAILABLE', 480, 'Temporarily Unavailable'],
    ['OUTGOING_CALL_BARRED', 403, 'Forbidden'],
  ])('%s → %i %s', (cause, status, reason) => {
    expect(hangupCauseToSip(cause)).toEqual({ status, reason });
  });

  it('knows the cause names, not other strings', () => {
    expect(isHangupCause('USER_BUSY')).toBe(true);
    expect(isHangupCause('user_busy')).toBe(false);
    expect(isHangupCause('toString')).toBe(false);
  });
});
