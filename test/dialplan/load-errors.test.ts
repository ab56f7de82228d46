import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { DialplanError, loadDialplan, parseDialplan } from '../../dialplan/index.js';

/** What parsing `lines` as plan.conf throws. */
function loadError(lines: string[]): unknown {
  try {
    parseDialplan(lines.join('\n'), 'plan.conf');
  } catch (error) {
    return error;
  }
  throw new Error('the dialplan loaded');
}

// Lines 1-4, so that every error below is on a line past the first extension.
const head = ['# a valid extension first', 'extension ok', '  condition destination_number ^1$', '  action answer'];

describe('load errors are DialplanErrors "<file>:<line>: <problem>"', () => {
  it.each<[string, string[], number, RegExp]>([
    ['unknown keyword', [...head, '', '  actoin answer'], 6, /^unknown keyword "actoin"/],
    ['action before any extension', ['# comment', '', 'action answer'], 3, /^action before any extension$/],
    ['condition before any extension', ['condition destination_number ^1$'], 1, /^condition before any extension$/],
    ['extension without a name', [...head, 'extension'], 5, /^extension without a name$/],
    ['junk after the extension name', [...head, 'extension e continue please'], 5, /only "continue" may follow/],
    ['invalid regex', [...head, 'extension e', '  condition destination_number ^(1$'], 6, /Invalid regular expression.*\^\(1\$/],
    ['condition without a regex', [...head, 'extension e', '  condition destination_number'], 6, /needs a field and a regular/],
    ['bad field name', [...head, 'extension e', '  condition ${x} ^1$'], 6, /^bad field name "\$\{x\}"$/],
    ['condition after an action', [...head, 'extension e', 'action answer', 'condition user_id ^1$'], 7, /^condition after an action/],
    ['unknown action', [...head, 'extension e', '  action bridge sofia/x'], 6, /^unknown action "bridge"/],
    ['action without application', [...head, 'extension e', '  action'], 6, /^unknown action ""/],
    ['answer with an argument', [...head, 'extension e', '  action answer now'], 6, /^answer takes no argument$/],
    ['conference without @profile', [...head, 'extension e', '  action conference $1'], 6, /^conference needs <room>@<profile>, got "\$1"$/],
    ['conference with empty room', [...head, 'extension e', '  action conference @video'], 6, /^conference needs <room>@<profile>/],
    ['conference with empty profile', [...head, 'extension e', '  action conference r@'], 6, /^conference needs <room>@<profile>/],
    ['set without =', [...head, 'extension e', '  action set media'], 6, /^set needs <name>=<value>, got "media"$/],
    ['set with a bad name', [...head, 'extension e', '  action set 1x=2'], 6, /^set needs <name>=<value>/],
    ['set without a name', [...head, 'extension e', '  action set =audio'], 6, /^set needs <name>=<value>/],
    ['unknown hangup cause', [...head, 'extension e', '  action hangup NO_SUCH_CAUSE'], 6, /^unknown hangup cause "NO_SUCH_CAUSE"$/],
    ['lower-case hangup cause', [...head, 'extension e', '  action hangup user_busy'], 6, /^unknown hangup cause "user_busy"$/],
    [
      '$N beyond the last condition’s groups',
      [...head, 'extension e', '  condition user_id ^(\\d+)$', '  condition destination_number ^(\\d+)$', '  action conference $1@$2'],
      8,
      /^\$2 refers to a capture group the last condition does not have \(it has 1\)$/,
    ],
    ['$N without any condition', [...head, 'extension e', '  action set x=$1'], 6, /^\$1 refers to .* \(it has 0\)$/],
    ['extension with no actions, followed by another', [...head, '', 'extension empty', '  condition destination_number ^2$', 'extension next', 'action answer'], 6, /^extension "empty" has no actions$/],
    ['extension with no actions at the end', [...head, 'extension empty', '  condition destination_number ^2$', '# end'], 5, /^extension "empty" has no actions$/],
    ['duplicate extension name', [...head, '', 'extension ok', '  action answer'], 6, /^duplicate extension "ok" \(first defined on line 2\)$/],
  ])('%s', (_case, lines, line, problem) => {
    const error = loadError(lines);
    expect(error).toBeInstanceOf(DialplanError);
    const { message, file, line: errorLine, problem: errorProblem } = error as DialplanError;
    expect({ file, line: errorLine }).toEqual({ file: 'plan.conf', line });
    expect(errorProblem).toMatch(problem);
    expect(message).toBe(`plan.conf:${line}: ${errorProblem}`);
  });

  it('loadDialplan names the file it read', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'dialplan-')), 'broken.conf');
    writeFileSync(path, 'extension e\n  action conference lobby\n');
    expect(() => loadDialplan(path)).toThrow(`${path}:2: conference needs <room>@<profile>, got "lobby"`);
  });
});
