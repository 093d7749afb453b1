/**
 * Deepest JSON nesting the API accepts. Real payloads (MLflow, Label Studio, tensors) stay far below it;
 * a 100k-deep array would otherwise reach recursive code (validation, serialization) and overflow the
 * stack: a 400 is the answer, not a 500 (docs/security.md, input validation).
 */
export const MAX_JSON_DEPTH = 256;

/** Whether `text` opens more than `max` nested arrays/objects at some point; one linear pass, strings skipped. */
export function jsonNestingExceeds(text: string, max = MAX_JSON_DEPTH): boolean {
  // Fewer than `max` openers in all cannot nest deeper: counted with native indexOf, this skips the
  // character loop for typical bodies (a tensor body has a handful of brackets in 100 KB).
  if (text.length <= max || countUpTo(text, "[", max) + countUpTo(text, "{", max) <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

function countUpTo(text: string, char: string, limit: number): number {
  let count = 0;
  for (let i = text.indexOf(char); i !== -1 && count <= limit; i = text.indexOf(char, i + 1)) count++;
  return count;
}
