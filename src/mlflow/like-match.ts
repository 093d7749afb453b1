/**
 * SQL `LIKE` / `ILIKE` as MLflow filters mean it, without regular expressions: `%` matches any run of
 * characters, `_` exactly one, a backslash makes the next character literal (`\%`, `\_`, `\\`, as
 * PostgreSQL's default escape), everything else matches itself, and the pattern covers the whole value.
 *
 * Why not a RegExp: `%a%a%a%a%a%b` became `^.*a.*a.*a.*a.*a.*b$`, whose backtracking over a 120-character
 * value froze the server for 44 s (docs/security.md, ReDoS). Here the pattern is split at `%` into
 * segments; the first is anchored at the start, the last at the end, and each middle one is placed at its
 * leftmost match after the previous one — leftmost is always safe because `%` absorbs whatever lies
 * between. Nothing is ever revisited, so the cost is at most value length x pattern length, with no
 * exponential case. Characters are compared by code point (an emoji is one `_`).
 */

type Element = { one: true } | { one: false; char: string };
type Segment = Element[];

interface CompiledLike {
  /** Segments between `%`s; `[]` entries stand for empty segments. */
  segments: Segment[];
  /** True when the pattern holds at least one `%`. */
  hasWildcard: boolean;
}

function compile(pattern: string): CompiledLike {
  const segments: Segment[] = [[]];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    const current = segments[segments.length - 1];
    if (ch === "\\" && i + 1 < chars.length) {
      current.push({ one: false, char: chars[++i] });
    } else if (ch === "%") {
      segments.push([]);
    } else if (ch === "_") {
      current.push({ one: true });
    } else {
      current.push({ one: false, char: ch });
    }
  }
  return { segments, hasWildcard: segments.length > 1 };
}

function sameChar(a: string, b: string, caseInsensitive: boolean): boolean {
  return a === b || (caseInsensitive && a.toLowerCase() === b.toLowerCase());
}

function matchesAt(value: string[], at: number, segment: Segment, caseInsensitive: boolean): boolean {
  if (at < 0 || at + segment.length > value.length) return false;
  for (let i = 0; i < segment.length; i++) {
    const element = segment[i];
    if (!element.one && !sameChar(value[at + i], element.char, caseInsensitive)) return false;
  }
  return true;
}

/** A matcher compiled once for many values (search over many runs or models). */
export function likeMatcher(pattern: string, caseInsensitive = false): (value: string) => boolean {
  const { segments, hasWildcard } = compile(pattern);
  const first = segments[0];
  const last = segments[segments.length - 1];
  return (value) => {
    const chars = Array.from(value);
    if (!hasWildcard) return chars.length === first.length && matchesAt(chars, 0, first, caseInsensitive);
    if (first.length + last.length > chars.length) return false;
    if (!matchesAt(chars, 0, first, caseInsensitive)) return false;
    const end = chars.length - last.length;
    if (!matchesAt(chars, end, last, caseInsensitive)) return false;
    let at = first.length;
    for (let s = 1; s < segments.length - 1; s++) {
      const found = leftmost(chars, at, end, segments[s], caseInsensitive);
      if (found < 0) return false;
      at = found + segments[s].length;
    }
    return true;
  };
}

/** The first position in [from, end - segment length] where the segment matches, or -1. */
function leftmost(chars: string[], from: number, end: number, segment: Segment, ci: boolean): number {
  for (let p = from; p + segment.length <= end; p++) if (matchesAt(chars, p, segment, ci)) return p;
  return -1;
}

/** True when `value` matches the LIKE `pattern` (ILIKE when `caseInsensitive`). */
export function likeMatches(value: string, pattern: string, caseInsensitive = false): boolean {
  return likeMatcher(pattern, caseInsensitive)(value);
}
