import { describe, it, expect } from 'vitest';
import { parseDialplan } from '../../dialplan/index.js';

const plan = (...lines: string[]) => parseDialplan(lines.join('\n'), 'test.conf');

describe('Dialplan.route', () => {
  it('substitutes $N with the captures of the last condition', () => {
    const dialplan = plan(
      'extension two_conditions',
      '  condition caller_id_number ^(\\d+)$',
      '  condition destination_number ^conf-(\\w+)-(\\w+)$',
      '  action conference $2@$1',
      '  action set from=$1',
    );
    expect(dialplan.route({ destination_number: 'conf-lobby-hd', caller_id_number: '42' })?.actions).toEqual([
      { kind: 'conference', room: 'hd', profile: 'lobby' },
      { kind: 'set', name: 'from', value: 'lobby' },
    ]);
  });

  it('expands an optional group that did not take part in the match to the empty string', () => {
    const dialplan = plan('extension e', 'condition destination_number ^(a)?(b)$', 'action set v=[$1|$2]');
    expect(dialplan.route({ destination_number: 'b' })?.variables).toEqual({ v: '[|b]' });
  });

  it('expands ${var} from earlier sets, then from call fields, else to nothing', () => {
    const dialplan = plan(
      'extension vars',
      '  condition destination_number ^room-(.+)$',
      '  action set profile=hd',
      '  action set label=${caller_id_number} in $1 (${no_such_var}${constructor})',
      '  action set dev_id=9',
      '  action conference ${dev_id}*$1@${profile}',
    );
    expect(dialplan.route({ destination_number: 'room-blue', caller_id_number: '555', dev_id: '3' })).toEqual({
      extension: 'vars',
      actions: [
        { kind: 'set', name: 'profile', value: 'hd' },
        { kind: 'set', name: 'label', value: '555 in blue ()' },
        { kind: 'set', name: 'dev_id', value: '9' },
        { kind: 'conference', room: '9*blue', profile: 'hd' },
      ],
      variables: { profile: 'hd', label: '555 in blue ()', dev_id: '9' },
    });
  });

  it('keeps a lone $ and unclosed ${ literally', () => {
    const dialplan = plan('extension e', 'action set v=cost $ and ${open and $0');
    expect(dialplan.route({ destination_number: '1' })?.variables).toEqual({ v: 'cost $ and ${open and $0' });
  });

  describe('conditions on caller fields', () => {
    const dialplan = plan(
      'extension admins_only',
      '  condition user_id ^(1|2)$',
      '  condition destination_number ^admin$',
      '  action conference admin@default',
      'extension tenant_7',
      '  condition dev_id ^7$',
      '  action hangup CALL_REJECTED',
      'extension everyone',
      '  condition destination_number ^.*$',
      '  action answer',
    );

    it('matches when every condition matches', () => {
      expect(dialplan.route({ destination_number: 'admin', user_id: '2' })?.extension).toBe('admins_only');
    });

    it('falls through when one condition fails', () => {
      expect(dialplan.route({ destination_number: 'admin', user_id: '3' })?.extension).toBe('everyone');
    });

    it('tests a missing field as the empty string', () => {
      expect(dialplan.route({ destination_number: 'admin' })?.extension).toBe('everyone');
      expect(dialplan.route({ destination_number: 'x', dev_id: '7' })?.extension).toBe('tenant_7');
    });
  });

  it('returns null when no extension matches', () => {
    const dialplan = plan('extension e', 'condition destination_number ^1$', 'action answer');
    expect(dialplan.route({ destination_number: '2' })).toBeNull();
  });

  it('takes the first matching extension only', () => {
    const dialplan = plan(
      'extension first',
      'condition destination_number ^1',
      'action set which=first',
      'extension second',
      'condition destination_number ^1',
      'action set which=second',
    );
    expect(dialplan.route({ destination_number: '12' })).toEqual({
      extension: 'first',
      actions: [{ kind: 'set', name: 'which', value: 'first' }],
      variables: { which: 'first' },
    });
  });

  it('with continue, keeps hunting and accumulates actions and variables', () => {
    const dialplan = plan(
      'extension tag continue',
      '  condition destination_number ^(\\d+)\\*',
      '  action set tenant=$1',
      'extension skipped',
      '  condition destination_number ^nope$',
      '  action hangup',
      'extension join',
      '  condition destination_number ^\\d+\\*(\\w+)$',
      '  action conference ${tenant}-$1@default',
      'extension never',
      '  action hangup USER_BUSY',
    );
    expect(dialplan.route({ destination_number: '5*lobby' })).toEqual({
      extension: 'join',
      actions: [
        { kind: 'set', name: 'tenant', value: '5' },
        { kind: 'conference', room: '5-lobby', profile: 'default' },
      ],
      variables: { tenant: '5' },
    });
  });

  it('a bare hangup is NORMAL_CLEARING', () => {
    expect(plan('extension e', 'action hangup').route({ destination_number: '' })?.actions).toEqual([
      { kind: 'hangup', cause: 'NORMAL_CLEARING' },
    ]);
  });

  it('returns fresh actions: mutating a result does not change the dialplan', () => {
    const dialplan = plan('extension e', 'action hangup USER_BUSY');
    const first = dialplan.route({ destination_number: '' });
    (first?.actions[0] as { cause: string }).cause = 'CALL_REJECTED';
    expect(dialplan.route({ destination_number: '' })?.actions).toEqual([{ kind: 'hangup', cause: 'USER_BUSY' }]);
  });

  it('accepts comments, blank lines, any indentation and CRLF line ends', () => {
    const dialplan = parseDialplan(
      '# heading\r\n\r\n   extension   e  \r\n\t# note\r\ncondition destination_number ^a b#c$\r\n      action answer\r\n',
      'test.conf',
    );
    expect(dialplan.route({ destination_number: 'a b#c' })?.extension).toBe('e');
  });
});
