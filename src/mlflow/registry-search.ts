import { InputError } from "../errors.js";
import { likeMatches } from "./like-match.js";

/**
 * The filter language of `registered-models/search` and `model-versions/search` (MLflow's
 * SearchModelUtils / SearchModelVersionUtils): clauses joined by AND, e.g.
 * `name LIKE '%cls%' AND tags.team = 'vision'`, `name = 'm' AND run_id IN ('a', 'b')`.
 */
export interface RegistryClause {
  /** `name`, `run_id`, `source_path`, `version_number`, or `tags.<key>`. */
  key: string;
  comparator: "=" | "!=" | "LIKE" | "ILIKE" | "IN" | "NOT IN";
  value: string | string[];
}

const OTHER_TOKEN = /\s*(?:("(?:[^"\\]|\\.)*"|'(?:[^'\\]|''|\\.)*')|(!=|<>|=)|(\()|(\))|(,)|([0-9]+))/y;
const BARE_PART = /[A-Za-z0-9_]+/y;

type Token = { kind: "string" | "op" | "lparen" | "rparen" | "comma" | "word"; text: string };

/**
 * Names are dot-separated parts, each bare (`tags.team`) or backtick-quoted (``tag.`mlflow.prompt.is_prompt` ``,
 * which `search_registered_models()` always sends); values are quoted strings or digits.
 */
function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  const fail = (): never => {
    throw new InputError(`Invalid filter '${filter}': unexpected text at '${filter.slice(at, at + 20)}'`);
  };
  while (at < filter.length) {
    if (/\s/.test(filter[at])) {
      at++;
      continue;
    }
    if (/[A-Za-z_`]/.test(filter[at])) {
      const parts: string[] = [];
      for (;;) {
        if (filter[at] === "`") {
          const close = filter.indexOf("`", at + 1);
          if (close < 0) fail();
          parts.push(filter.slice(at + 1, close));
          at = close + 1;
        } else {
          BARE_PART.lastIndex = at;
          const bare = BARE_PART.exec(filter);
          if (!bare) fail();
          parts.push((bare as RegExpExecArray)[0]);
          at = BARE_PART.lastIndex;
        }
        if (filter[at] !== ".") break;
        at++;
      }
      tokens.push({ kind: "word", text: parts.join(".") });
      continue;
    }
    OTHER_TOKEN.lastIndex = at;
    const m = OTHER_TOKEN.exec(filter) ?? fail();
    at = OTHER_TOKEN.lastIndex;
    if (m[1]) {
      const inner = m[1].slice(1, -1);
      tokens.push({ kind: "string", text: inner.replace(/''/g, "'").replace(/\\(.)/g, "$1") });
    } else if (m[2]) tokens.push({ kind: "op", text: m[2] === "<>" ? "!=" : m[2] });
    else if (m[3]) tokens.push({ kind: "lparen", text: "(" });
    else if (m[4]) tokens.push({ kind: "rparen", text: ")" });
    else if (m[5]) tokens.push({ kind: "comma", text: "," });
    else tokens.push({ kind: "word", text: m[6] });
  }
  return tokens;
}

export function parseRegistryFilter(
  filter: string | undefined,
  allowedKeys: readonly string[],
): RegistryClause[] {
  if (!filter?.trim()) return [];
  const tokens = tokenize(filter);
  const clauses: RegistryClause[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new InputError(`Invalid filter '${filter}': ${why}`);
  };
  while (i < tokens.length) {
    const ident = tokens[i++];
    if (ident?.kind !== "word" && ident?.kind !== "string") fail("expected an attribute name");
    let key = ident.text;
    if (/^tags?\./i.test(key)) key = `tags.${key.slice(key.indexOf(".") + 1)}`;
    if (!key.startsWith("tags.") && !allowedKeys.includes(key)) {
      fail(`invalid attribute '${key}' (allowed: ${allowedKeys.join(", ")}, tags.<key>)`);
    }
    let comparator: RegistryClause["comparator"];
    const op = tokens[i++];
    if (op?.kind === "op") comparator = op.text as "=" | "!=";
    else if (op?.kind === "word" && /^(like|ilike|in)$/i.test(op.text))
      comparator = op.text.toUpperCase() as "LIKE" | "ILIKE" | "IN";
    else if (op?.kind === "word" && /^not$/i.test(op.text) && /^in$/i.test(tokens[i]?.text ?? "")) {
      i++;
      comparator = "NOT IN";
    } else return fail(`expected a comparator after '${key}'`);
    if (comparator === "IN" || comparator === "NOT IN") {
      if (tokens[i++]?.kind !== "lparen") fail("IN needs a list: ('a', 'b')");
      const values: string[] = [];
      for (;;) {
        const v = tokens[i++];
        if (v?.kind !== "string") fail("IN lists hold quoted strings");
        values.push((v as Token).text);
        const sep = tokens[i++];
        if (sep?.kind === "rparen") break;
        if (sep?.kind !== "comma") fail("expected ',' or ')' in the IN list");
      }
      clauses.push({ key, comparator, value: values });
    } else {
      const v = tokens[i++];
      if (v?.kind === "string") clauses.push({ key, comparator, value: v.text });
      else if (v?.kind === "word" && /^[0-9]+$/.test(v.text) && key === "version_number")
        clauses.push({ key, comparator, value: v.text });
      else fail(`expected a quoted value for '${key}'`);
    }
    if (i < tokens.length) {
      const and = tokens[i++];
      if (and.kind !== "word" || !/^and$/i.test(and.text) || i >= tokens.length)
        fail("clauses are joined by AND");
    }
  }
  return clauses;
}

/**
 * MLflow's semantics: a missing tag fails `=`, LIKE, IN and NOT IN but satisfies `!=` (the SQL store's
 * `NOT EXISTS ... OR value != x`), which is what makes ``tag.`mlflow.prompt.is_prompt` != 'true'`` keep
 * every model that is not a prompt.
 */
export function matchesRegistryFilter(
  values: (key: string) => string | undefined,
  clauses: RegistryClause[],
): boolean {
  return clauses.every((c) => {
    const actual = values(c.key);
    switch (c.comparator) {
      case "=":
        return actual === c.value;
      case "!=":
        return actual === undefined ? c.key.startsWith("tags.") : actual !== c.value;
      case "LIKE":
      case "ILIKE":
        return actual !== undefined && likeMatches(actual, c.value as string, c.comparator === "ILIKE");
      case "IN":
        return actual !== undefined && (c.value as string[]).includes(actual);
      case "NOT IN":
        return actual !== undefined && !(c.value as string[]).includes(actual);
      default:
        return false;
    }
  });
}

/** `order_by` entries: `name`, `last_updated_timestamp DESC`, ... -> comparator over rows. */
export function registryComparator<T>(
  orderBy: readonly string[] | undefined,
  fields: Record<string, (row: T) => string | number>,
  tiebreak: Array<[string, "ASC" | "DESC"]>,
): (a: T, b: T) => number {
  const keys: Array<[string, "ASC" | "DESC"]> = [];
  for (const entry of orderBy ?? []) {
    const m = /^\s*([A-Za-z_]+)\s*(ASC|DESC)?\s*$/i.exec(entry);
    const field = m?.[1] === "timestamp" ? "last_updated_timestamp" : m?.[1];
    if (!m || !field || !fields[field]) {
      throw new InputError(
        `Invalid order_by clause '${entry}' (allowed: ${Object.keys(fields).join(", ")} [ASC|DESC])`,
      );
    }
    keys.push([field, (m[2]?.toUpperCase() as "ASC" | "DESC") ?? "ASC"]);
  }
  for (const t of tiebreak) if (!keys.some(([k]) => k === t[0])) keys.push(t);
  return (a, b) => {
    for (const [field, dir] of keys) {
      const x = fields[field](a);
      const y = fields[field](b);
      const cmp = x < y ? -1 : x > y ? 1 : 0;
      if (cmp !== 0) return dir === "ASC" ? cmp : -cmp;
    }
    return 0;
  };
}
