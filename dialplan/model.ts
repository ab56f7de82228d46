/** The dialplan's data: what a call offers to routing, what routing answers, and the compiled extensions. */
import type { HangupCause } from './causes.js';

/** What a call offers to the conditions and to `${…}`: SIP-derived fields, all strings. */
export interface CallFields {
  /** The dialled number; CppComet browsers dial `<dev_id>*<room>*<profile>`. */
  destination_number: string;
  caller_id_number?: string;
  user_id?: string;
  dev_id?: string;
  [field: string]: string | undefined;
}

export type Action =
  | { kind: 'answer' }
  | { kind: 'conference'; room: string; profile: string }
  | { kind: 'set'; name: string; value: string }
  | { kind: 'hangup'; cause: HangupCause };

export interface DialplanResult {
  /** The extension that ended the hunt: the last one matched. */
  extension: string;
  /** In order, arguments expanded, including the actions of matched `continue` extensions before it. */
  actions: Action[];
  /** The variables the `set` actions left. */
  variables: Record<string, string>;
}

/** An action as written in the file: its arguments are templates (see template.ts) expanded per call. */
export type ActionTemplate = Action;

export interface Condition {
  /** The call field tested; a missing field tests as the empty string. */
  field: string;
  regex: RegExp;
}

export interface Extension {
  name: string;
  /** FreeSWITCH's `continue="true"`: after this extension's actions, keep hunting. */
  continueHunt: boolean;
  /** All must match; none means the extension always matches. */
  conditions: Condition[];
  actions: ActionTemplate[];
}
