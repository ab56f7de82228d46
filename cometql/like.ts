/** `%`: any run of characters; `_`: any one character; anything else, `\%` and `\_` included, itself. */
const ANY = Symbol('%');
const ONE = Symbol('_');
type Item = string | typeof ANY | typeof ONE;

/**
 * SQL LIKE, case-insensitive, in O(pattern x text) at worst: a regular expression of the pattern backtracks
 * exponentially on patterns such as `%_%_%_…x` (14 pairs took 300 ms, a few more would hold the process).
 */
export function likeMatcher(pattern: string): (text: string) => boolean {
  const items: Item[] = [];
  const lower = pattern.toLowerCase();
  for (let i = 0; i < lower.length; i++) {
    const c = lower[i]!;
    if (c === '\\' && (lower[i + 1] === '%' || lower[i + 1] === '_')) items.push(lower[++i]!);
    else items.push(c === '%' ? ANY : c === '_' ? ONE : c);
  }
  return (text) => matches(items, text.toLowerCase());
}

/** Greedy matching that, on a mismatch, only ever retries from the last `%`: each text position is tried once per `%`. */
function matches(items: readonly Item[], text: string): boolean {
  let item = 0;
  let at = 0;
  let lastAny = -1;
  let resumeAt = 0;
  while (at < text.length) {
    const wanted = items[item];
    if (wanted === ANY) {
      lastAny = item++;
      resumeAt = at;
    } else if (wanted !== undefined && (wanted === ONE || wanted === text[at])) {
      item++;
      at++;
    } else if (lastAny >= 0) {
      item = lastAny + 1;
      at = ++resumeAt;
    } else {
      return false;
    }
  }
  while (items[item] === ANY) item++;
  return item === items.length;
}
