/** Routing a call through the compiled extensions, FreeSWITCH XML-dialplan style. */
import type { Action, ActionTemplate, CallFields, Condition, DialplanResult, Extension } from './model.js';
import { expand } from './template.js';

export class Dialplan {
  constructor(private readonly extensions: readonly Extension[]) {}

  /**
   * Hunts the extensions in order: the first whose conditions all match wins, unless it is marked `continue`,
   * in which case its actions are kept and the hunt goes on. Null when no extension matched: refuse the call as
   * NO_ROUTE_DESTINATION (404), as FreeSWITCH does.
   */
  route(call: CallFields): DialplanResult | null {
    const variables = new Map<string, string>();
    // A set variable shadows the call field of the same name.
    const lookup = (name: string): string | undefined => variables.get(name) ?? callField(call, name);
    const actions: Action[] = [];
    let matched: string | null = null;

    for (const extension of this.extensions) {
      const captures = matchConditions(extension.conditions, call);
      if (captures === null) continue;
      matched = extension.name;
      for (const template of extension.actions) {
        const action = resolve(template, captures, lookup);
        if (action.kind === 'set') variables.set(action.name, action.value);
        actions.push(action);
      }
      if (!extension.continueHunt) break;
    }
    return matched === null ? null : { extension: matched, actions, variables: Object.fromEntries(variables) };
  }
}

/** The captures of the last condition (FreeSWITCH's `$1`…), or null if any condition fails. */
function matchConditions(conditions: readonly Condition[], call: CallFields): readonly (string | undefined)[] | null {
  let captures: readonly (string | undefined)[] = [];
  for (const { field, regex } of conditions) {
    const match = regex.exec(callField(call, field) ?? '');
    if (match === null) return null;
    captures = match;
  }
  return captures;
}

/** Own properties only, so a name such as `constructor` reads as absent rather than as Object's. */
function callField(call: CallFields, name: string): string | undefined {
  return Object.hasOwn(call, name) ? call[name] : undefined;
}

function resolve(
  template: ActionTemplate,
  captures: readonly (string | undefined)[],
  lookup: (name: string) => string | undefined,
): Action {
  const fill = (text: string): string => expand(text, captures, lookup);
  switch (template.kind) {
    case 'conference':
      return { kind: 'conference', room: fill(template.room), profile: fill(template.profile) };
    case 'set':
      return { kind: 'set', name: template.name, value: fill(template.value) };
    case 'answer':
    case 'hangup':
      return { ...template };
  }
}
