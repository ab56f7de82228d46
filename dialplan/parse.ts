/**
 * Reading the dialplan file (format: see conf/dialplan.conf). Everything is checked here, at start-up, so a
 * mistake is reported with its file and line instead of surfacing on some later call.
 */
import { readFileSync } from 'node:fs';
import { isHangupCause } from './causes.js';
import type { ActionTemplate, Condition, Extension } from './model.js';
import { Dialplan } from './route.js';
import { IDENTIFIER, highestCapture } from './template.js';

export class DialplanError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'DialplanError';
  }
}

export function loadDialplan(path: string): Dialplan {
  return parseDialplan(readFileSync(path, 'utf8'), path);
}

type Fail = (problem: string) => never;

/** The extension being read, with what its lines need to be checked. */
interface OpenExtension {
  extension: Extension;
  line: number;
  /** Capture groups of its last condition so far: the most `$N` its actions may use. */
  captureGroups: number;
}

export function parseDialplan(text: string, fileName: string): Dialplan {
  const extensions: Extension[] = [];
  const lineOfName = new Map<string, number>();
  let current: OpenExtension | undefined;

  const requireActions = ({ extension, line }: OpenExtension): void => {
    if (extension.actions.length === 0) {
      throw new DialplanError(fileName, line, `extension "${extension.name}" has no actions`);
    }
  };

  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    // Only whole lines are comments: `#` is a valid character in a dialled number and thus in a regex.
    if (line === '' || line.startsWith('#')) continue;
    const lineNumber = index + 1;
    const fail: Fail = (problem) => {
      throw new DialplanError(fileName, lineNumber, problem);
    };
    const [keyword, rest] = splitFirstWord(line);

    if (keyword === 'extension') {
      if (current) requireActions(current);
      const extension = parseExtensionHeader(rest, fail);
      const firstLine = lineOfName.get(extension.name);
      if (firstLine !== undefined) fail(`duplicate extension "${extension.name}" (first defined on line ${firstLine})`);
      lineOfName.set(extension.name, lineNumber);
      extensions.push(extension);
      current = { extension, line: lineNumber, captureGroups: 0 };
    } else if (keyword === 'condition' || keyword === 'action') {
      if (!current) fail(`${keyword} before any extension`);
      if (keyword === 'condition') {
        if (current.extension.actions.length > 0) fail('condition after an action: list the conditions first');
        const condition = parseCondition(rest, fail);
        current.extension.conditions.push(condition);
        current.captureGroups = countCaptureGroups(condition.regex);
      } else {
        current.extension.actions.push(parseAction(rest, current.captureGroups, fail));
      }
    } else {
      fail(`unknown keyword "${keyword}" (expected extension, condition or action)`);
    }
  }
  if (current) requireActions(current);
  return new Dialplan(extensions);
}

/** `extension <name> [continue]` */
function parseExtensionHeader(rest: string, fail: Fail): Extension {
  const [name, ...flags] = rest.split(/\s+/);
  if (!name) fail('extension without a name');
  if (flags.length > 1 || (flags.length === 1 && flags[0] !== 'continue')) {
    fail(`unexpected "${flags.join(' ')}" after the extension name (only "continue" may follow it)`);
  }
  return { name, continueHunt: flags.length === 1, conditions: [], actions: [] };
}

/** `condition <field> <regex>`: the regex is the rest of the line. */
function parseCondition(rest: string, fail: Fail): Condition {
  const [field, source] = splitFirstWord(rest);
  if (!source) fail('condition needs a field and a regular expression, e.g. "condition destination_number ^100$"');
  if (!IDENTIFIER.test(field)) fail(`bad field name "${field}"`);
  try {
    return { field, regex: new RegExp(source) };
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

/** `action <application> <arguments>`; `captureGroups` bounds the `$N` the arguments may use. */
function parseAction(rest: string, captureGroups: number, fail: Fail): ActionTemplate {
  const [application, args] = splitFirstWord(rest);
  const template = (text: string): string => {
    const highest = highestCapture(text);
    if (highest > captureGroups) {
      fail(`$${highest} refers to a capture group the last condition does not have (it has ${captureGroups})`);
    }
    return text;
  };

  switch (application) {
    case 'answer':
      if (args) fail('answer takes no argument');
      return { kind: 'answer' };
    case 'conference': {
      const at = args.indexOf('@');
      if (at <= 0 || at === args.length - 1) fail(`conference needs <room>@<profile>, got "${args}"`);
      return { kind: 'conference', room: template(args.slice(0, at)), profile: template(args.slice(at + 1)) };
    }
    case 'set': {
      const equals = args.indexOf('=');
      const name = args.slice(0, equals).trim();
      if (equals < 0 || !IDENTIFIER.test(name)) fail(`set needs <name>=<value>, got "${args}"`);
      return { kind: 'set', name, value: template(args.slice(equals + 1).trim()) };
    }
    case 'hangup': {
      // As in FreeSWITCH, a bare hangup is a normal one.
      const cause = args || 'NORMAL_CLEARING';
      if (!isHangupCause(cause)) fail(`unknown hangup cause "${cause}"`);
      return { kind: 'hangup', cause };
    }
    default:
      fail(`unknown action "${application}" (expected answer, conference, set or hangup)`);
  }
}

/** A regex extended with an empty alternative matches '' and reports every group, unset. */
function countCaptureGroups(regex: RegExp): number {
  return (new RegExp(`${regex.source}|`).exec('')?.length ?? 1) - 1;
}

function splitFirstWord(text: string): [first: string, rest: string] {
  const space = text.search(/\s/);
  return space < 0 ? [text, ''] : [text.slice(0, space), text.slice(space).trim()];
}
