/**
 * Action arguments are templates: `$1`…`$9` stand for the capture groups of the extension's last condition,
 * `${name}` for a variable set earlier by `set` or else a field of the call. Anything unknown expands to the
 * empty string, as in FreeSWITCH.
 */

const NAME = '[A-Za-z_][A-Za-z0-9_]*';

/** The names `set` may assign, `${…}` may read and conditions may test. */
export const IDENTIFIER = new RegExp(`^${NAME}$`);

const REFERENCE = new RegExp(`\\$(?:([1-9])|\\{(${NAME})\\})`, 'g');

/** The highest `$N` a template uses (0 if none), so the parser can check that the condition captures it. */
export function highestCapture(template: string): number {
  let highest = 0;
  for (const [, group] of template.matchAll(REFERENCE)) {
    if (group !== undefined) highest = Math.max(highest, Number(group));
  }
  return highest;
}

export function expand(
  template: string,
  captures: readonly (string | undefined)[],
  variable: (name: string) => string | undefined,
): string {
  return template.replace(
    REFERENCE,
    (_match, group: string | undefined, name: string | undefined) =>
      (name !== undefined ? variable(name) : captures[Number(group)]) ?? '',
  );
}
