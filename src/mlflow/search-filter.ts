import { InputError } from "../errors.js";
import { likeMatches } from "./like-match.js";

/**
 * MLflow's `search_runs` filter language, parsed into an AST that a store translates to SQL and that
 * `matchesFilter` evaluates in memory. Grammar and error messages follow mlflow/utils/search_utils.py
 * (`SearchUtils.parse_search_filter`):
 *
 *   filter     := clause ( AND clause )*                     -- only AND: MLflow has no OR or parentheses
 *   clause     := identifier comparator value
 *   identifier := [entity "."] key                            -- no entity means `attributes`
 *   entity     := metric(s) | param(s) | parameter(s) | tag(s) | attribute(s) | attr | run
 *   key        := word("." word)* | `backticked` | "double quoted"   -- quote keys with spaces, dashes, ...
 *   comparator := = | != | > | >= | < | <= | LIKE | ILIKE | IN | NOT IN   (keywords case-insensitive)
 *   value      := number | 'string' | "string" | ( 'string', ... )
 *
 * Types: metrics and `start_time`/`end_time` (alias `created`) take numbers and = != > >= < <=;
 * params, tags and the string attributes take quoted strings and = != LIKE ILIKE; only
 * `attributes.run_id` takes IN / NOT IN with a list. Attribute keys: MLflow's searchable ones —
 * run_id, run_name (alias `run name`), status, user_id, artifact_uri, start_time, end_time. MLflow does
 * not filter on lifecycle_stage (that is `run_view_type`), and neither does this parser.
 * Differences from MLflow, all stricter or saner: a trailing or doubled AND is refused; quotes inside
 * strings may be escaped by doubling (`'it''s'`) or with a backslash and are unescaped; comparator
 * errors surface at parse time, not at evaluation.
 */

export type EntityType = "metric" | "param" | "tag" | "attribute";
export type NumericComparator = "=" | "!=" | ">" | ">=" | "<" | "<=";
export type StringComparator = "=" | "!=" | "LIKE" | "ILIKE";
export type ListComparator = "IN" | "NOT IN";
export type Comparator = NumericComparator | StringComparator | ListComparator;
export type NumericAttribute = "start_time" | "end_time";
export type StringAttribute = "run_id" | "run_name" | "status" | "user_id" | "artifact_uri";
export type RunAttribute = NumericAttribute | StringAttribute;

export type FilterClause =
  | { type: "metric"; key: string; comparator: NumericComparator; value: number }
  | { type: "param" | "tag"; key: string; comparator: StringComparator; value: string }
  | { type: "attribute"; key: NumericAttribute; comparator: NumericComparator; value: number }
  | { type: "attribute"; key: StringAttribute; comparator: StringComparator; value: string }
  | { type: "attribute"; key: "run_id"; comparator: ListComparator; value: string[] };

/** Clauses joined by AND; empty means "every run". */
export type SearchFilter = FilterClause[];

/** What the in-memory evaluator and sorter need from a run. Metrics hold each key's latest value. */
export interface FilterableRun {
  metrics: Readonly<Record<string, number>>;
  params: Readonly<Record<string, string>>;
  tags: Readonly<Record<string, string>>;
  attributes: {
    run_id: string;
    run_name?: string | null;
    status: string;
    user_id?: string | null;
    artifact_uri?: string | null;
    start_time: number;
    end_time?: number | null;
  };
}

export const NUMERIC_COMPARATORS: readonly NumericComparator[] = [">", ">=", "!=", "=", "<", "<="];
export const STRING_COMPARATORS: readonly StringComparator[] = ["!=", "=", "LIKE", "ILIKE"];
const STRING_ATTRIBUTE_COMPARATORS: readonly Comparator[] = [...STRING_COMPARATORS, "IN", "NOT IN"];
export const NUMERIC_ATTRIBUTES: readonly NumericAttribute[] = ["start_time", "end_time"];
export const STRING_ATTRIBUTES: readonly StringAttribute[] = [
  "artifact_uri",
  "run_id",
  "run_name",
  "status",
  "user_id",
];

/** Alternative attribute names MLflow accepts (the UI's column titles), mapped to the canonical key. */
export const ATTRIBUTE_ALIASES: Readonly<Record<string, RunAttribute>> = {
  created: "start_time",
  Created: "start_time",
  "run name": "run_name",
  "Run name": "run_name",
  "Run Name": "run_name",
};
const ENTITY_ALIASES: Readonly<Record<string, EntityType>> = {
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
};
/** MLflow's word for each entity in messages. */
const ENTITY_WORD: Readonly<Record<EntityType, string>> = {
  metric: "metric",
  param: "parameter",
  tag: "tag",
  attribute: "attribute",
};
const MAX_FILTER_LENGTH = 100_000;

function pySet(values: readonly string[]): string {
  return `{${[...values].map((v) => `'${v}'`).join(", ")}}`;
}

/**
 * Resolves `type.key` text parts to a canonical entity and key; shared with order_by parsing, which
 * accepts a different set of attribute keys.
 */
export function resolveIdentifier(
  entityRaw: string | undefined,
  key: string,
  validAttributes: readonly string[],
): { type: EntityType; key: string } {
  const type = entityRaw === undefined ? "attribute" : ENTITY_ALIASES[entityRaw];
  if (type === undefined) {
    throw new InputError(
      `Invalid entity type '${entityRaw}'. Valid values are ['metric', 'parameter', 'tag', 'attribute']`,
    );
  }
  if (type !== "attribute") return { type, key };
  if (!validAttributes.includes(key)) {
    throw new InputError(
      `Invalid attribute key '${key}' specified. Valid keys are '${pySet([...validAttributes].sort())}'`,
    );
  }
  return { type, key: ATTRIBUTE_ALIASES[key] ?? key };
}

const SEARCHABLE_ATTRIBUTE_KEYS = [
  ...NUMERIC_ATTRIBUTES,
  ...STRING_ATTRIBUTES,
  ...Object.keys(ATTRIBUTE_ALIASES),
];

/** Parses a `search_runs` filter string; empty or absent means no filter. Throws InputError. */
export function parseSearchFilter(filter: string | undefined | null): SearchFilter {
  if (filter === undefined || filter === null || filter.trim() === "") return [];
  if (filter.length > MAX_FILTER_LENGTH) {
    throw new InputError(`Filter string is longer than ${MAX_FILTER_LENGTH} characters`);
  }
  const tokens = tokenize(filter, "filter");
  const clauses: FilterClause[] = [];
  let i = 0;
  while (i < tokens.length) {
    const start = i;
    const invalid = () =>
      new InputError(
        `Invalid clause(s) in filter string: ${tokens
          .slice(start, Math.max(i + 1, start + 1))
          .map((t) => `'${t.text}'`)
          .join(", ")}`,
      );
    const ident = tokens[i];
    if (ident?.kind !== "ident") throw invalid();
    i++;
    const comparator = readComparator(tokens, i);
    if (comparator === undefined) throw invalid();
    i += comparator.width;
    const value = tokens[i];
    if (value === undefined || !["number", "string", "ident", "lparen"].includes(value.kind)) throw invalid();
    const list = value.kind === "lparen" ? readList(tokens, i) : undefined;
    i = list ? list.end : i + 1;
    clauses.push(buildClause(ident, comparator.op, value, list?.values, tokens.slice(start, i)));
    if (i < tokens.length) {
      const sep = tokens[i];
      if (!(sep.kind === "keyword" && sep.upper === "AND") || i + 1 >= tokens.length) {
        throw new InputError(`Invalid clause(s) in filter string: '${sep.text}'`);
      }
      i++;
    }
  }
  return clauses;
}

function readComparator(tokens: Token[], i: number): { op: string; width: number } | undefined {
  const t = tokens[i];
  if (t === undefined) return undefined;
  if (t.kind === "op") return { op: t.text, width: 1 };
  if (t.kind !== "keyword") return undefined;
  if (t.upper === "NOT") {
    return tokens[i + 1]?.kind === "keyword" && tokens[i + 1].upper === "IN"
      ? { op: "NOT IN", width: 2 }
      : undefined;
  }
  return ["LIKE", "ILIKE", "IN"].includes(t.upper) ? { op: t.upper, width: 1 } : undefined;
}

const ILL_FORMED_LIST =
  "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.";

/** `( 'a', 'b' )` starting at the "(" token; returns the values and the index after ")". */
function readList(tokens: Token[], open: number): { values: string[]; end: number } {
  const values: string[] = [];
  let i = open + 1;
  if (tokens[i]?.kind === "rparen") {
    throw new InputError(
      "While parsing a list in the query, expected a non-empty list of string values, but got empty list",
    );
  }
  for (;;) {
    const t = tokens[i];
    if (t === undefined) throw new InputError(ILL_FORMED_LIST);
    if (t.kind !== "string") {
      const text = tokens
        .slice(open, i + 1)
        .map((x) => x.text)
        .join(" ");
      throw new InputError(
        "While parsing a list in the query, expected string value, punctuation, or whitespace, " +
          `but got different type in list: ${text}`,
      );
    }
    values.push(t.value);
    const next = tokens[i + 1];
    if (next?.kind === "rparen") return { values, end: i + 2 };
    if (next?.kind !== "comma") throw new InputError(ILL_FORMED_LIST);
    i += 2;
  }
}

function buildClause(
  ident: Token,
  op: string,
  value: Token,
  list: string[] | undefined,
  clause: Token[],
): FilterClause {
  const { entity, key: rawKey } = parseIdentifier(ident);
  const { type, key } = resolveIdentifier(entity, rawKey, SEARCHABLE_ATTRIBUTE_KEYS);
  const raw = list ? `(${list.map((v) => `'${v}'`).join(", ")})` : value.text;
  const isNumeric =
    type === "metric" || (type === "attribute" && (NUMERIC_ATTRIBUTES as string[]).includes(key));
  const allowed: readonly string[] = isNumeric
    ? NUMERIC_COMPARATORS
    : type === "attribute"
      ? STRING_ATTRIBUTE_COMPARATORS
      : STRING_COMPARATORS;
  if (!allowed.includes(op)) {
    throw new InputError(`Invalid comparator '${op}' not one of '${pySet(allowed)}'`);
  }

  if (isNumeric) {
    if (value.kind !== "number") {
      throw new InputError(
        type === "metric"
          ? `Expected numeric value type for metric. Found ${raw}`
          : `Expected numeric value type for numeric attribute: ${key}. Found ${raw}`,
      );
    }
    return { type, key, comparator: op, value: Number(value.text) } as FilterClause;
  }
  if (type !== "attribute") {
    if (value.kind !== "string") {
      throw new InputError(
        `Expected a quoted string value for ${ENTITY_WORD[type]} (e.g. 'my-value'). Got value ${raw}`,
      );
    }
    return { type, key, comparator: op as StringComparator, value: value.value };
  }
  if (list) {
    if (key !== "run_id") {
      throw new InputError(
        "Only the 'run_id' attribute supports comparison with a list of quoted string values.",
      );
    }
    if (op !== "IN" && op !== "NOT IN") {
      throw new InputError(`Invalid comparator '${op}' for a list of values; use IN or NOT IN`);
    }
    return { type, key: "run_id", comparator: op, value: list };
  }
  if (value.kind !== "string") {
    throw new InputError(`Expected a quoted string value for attributes. Got value ${raw}`);
  }
  if (op === "IN" || op === "NOT IN") {
    throw new InputError(
      `Invalid clause(s) in filter string: ${clause.map((t) => `'${t.text}'`).join(", ")}: ` +
        `${op} needs a parenthesized list such as ('a', 'b')`,
    );
  }
  return { type, key: key as StringAttribute, comparator: op as StringComparator, value: value.value };
}

// ---- Lexer (shared with order_by parsing) ----

export type TokenKind = "ident" | "keyword" | "string" | "number" | "op" | "lparen" | "rparen" | "comma";

export interface Token {
  kind: TokenKind;
  /** The source text, as written. */
  text: string;
  /** Strings: the unquoted, unescaped content; others: same as text. */
  value: string;
  /** Upper-cased text, for keyword comparisons. */
  upper: string;
  /** Identifiers: the dot-separated parts, unquoted. */
  parts?: { text: string; quoted: boolean }[];
}

const KEYWORDS = new Set(["AND", "OR", "NOT", "IN", "LIKE", "ILIKE"]);
const OPERATOR = /^(!=|<>|>=|<=|==|=|>|<)/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?![\w.])/;
const BARE_PART = /^[A-Za-z0-9_]+/;

/** Splits filter / order_by text into tokens; `subject` names the input in error messages. */
export function tokenize(input: string, subject: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  const fail = (why: string): never => {
    throw new InputError(`Invalid ${subject} '${input}'. Could not be parsed: ${why}`);
  };
  const readQuoted = (quote: string): string => {
    let value = "";
    let i = pos + 1;
    for (;;) {
      const ch = input[i];
      if (ch === undefined) fail(`unterminated ${quote} quote at position ${pos}`);
      if (ch === "\\" && input[i + 1] === quote) {
        value += quote;
        i += 2;
      } else if (ch === quote && input[i + 1] === quote && quote !== "`") {
        value += quote;
        i += 2;
      } else if (ch === quote) {
        pos = i + 1;
        return value;
      } else {
        value += ch;
        i++;
      }
    }
  };
  const push = (kind: TokenKind, text: string, value = text, parts?: Token["parts"]) =>
    tokens.push({ kind, text, value, upper: text.toUpperCase(), parts });

  while (pos < input.length) {
    const ch = input[pos];
    const rest = input.slice(pos);
    const start = pos;
    if (/\s/.test(ch)) {
      pos++;
    } else if (ch === "(" || ch === ")" || ch === ",") {
      push(ch === "(" ? "lparen" : ch === ")" ? "rparen" : "comma", ch);
      pos++;
    } else if (OPERATOR.test(rest)) {
      const op = OPERATOR.exec(rest)![0];
      push("op", op);
      pos += op.length;
    } else if (ch === "'" || ch === '"') {
      const value = readQuoted(ch);
      push("string", input.slice(start, pos), value);
    } else if (NUMBER.test(rest)) {
      const num = NUMBER.exec(rest)![0];
      push("number", num);
      pos += num.length;
    } else if (/[A-Za-z_`]/.test(ch)) {
      const parts: { text: string; quoted: boolean }[] = [];
      for (;;) {
        const c = input[pos];
        if (c === "`" || (c === '"' && parts.length > 0)) {
          parts.push({ text: readQuoted(c), quoted: true });
        } else {
          const bare = BARE_PART.exec(input.slice(pos));
          if (!bare) fail(`expected a name at position ${pos}`);
          parts.push({ text: bare![0], quoted: false });
          pos += bare![0].length;
        }
        if (input[pos] !== ".") break;
        pos++;
      }
      const text = input.slice(start, pos);
      const kind =
        parts.length === 1 && !parts[0].quoted && KEYWORDS.has(text.toUpperCase()) ? "keyword" : "ident";
      push(kind, text, text, parts);
    } else {
      fail(
        `unexpected character '${ch}' at position ${pos}` +
          " (quote keys that contain special characters: metrics.`my-key`)",
      );
    }
  }
  return tokens;
}

/** `metrics.acc` -> entity "metrics", key "acc"; `metrics.a.b` -> key "a.b"; `status` -> no entity. */
export function parseIdentifier(token: Token): { entity: string | undefined; key: string } {
  const parts = token.parts ?? [];
  if (parts.length === 1) return { entity: undefined, key: parts[0].text };
  const rest = parts.slice(1);
  if (rest.length > 1 && rest.some((p) => p.quoted)) {
    throw new InputError(
      `Invalid identifier '${token.text}'. Columns should be specified as 'attribute.<key>', ` +
        "'metric.<key>', 'tag.<key>', or 'param.<key>'; quote the whole key.",
    );
  }
  return { entity: parts[0].text, key: rest.map((p) => p.text).join(".") };
}

// ---- In-memory evaluation (tests, small sets; the SQL stores translate the AST instead) ----

function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function compareValues(lhs: string | number, op: Comparator, rhs: string | number): boolean {
  switch (op) {
    case "=":
      return lhs === rhs;
    case "!=":
      return lhs !== rhs;
    case ">":
      return lhs > rhs;
    case ">=":
      return lhs >= rhs;
    case "<":
      return lhs < rhs;
    case "<=":
      return lhs <= rhs;
    case "LIKE":
    case "ILIKE":
      return likeMatches(String(lhs), String(rhs), op === "ILIKE");
    default:
      return false;
  }
}

/**
 * MLflow's in-memory semantics: a run without the metric/param/tag (or with a null attribute) matches
 * no clause, not even `!=`; NaN compares as in IEEE (only `!=` holds).
 */
export function matchesClause(run: FilterableRun, clause: FilterClause): boolean {
  let lhs: string | number | null | undefined;
  if (clause.type === "metric") lhs = own(run.metrics, clause.key);
  else if (clause.type === "param") lhs = own(run.params, clause.key);
  else if (clause.type === "tag") lhs = own(run.tags, clause.key);
  else lhs = run.attributes[clause.key as RunAttribute];
  if (lhs === undefined || lhs === null) return false;
  if (clause.comparator === "IN") return (clause.value as string[]).includes(String(lhs));
  if (clause.comparator === "NOT IN") return !(clause.value as string[]).includes(String(lhs));
  return compareValues(lhs, clause.comparator, clause.value as string | number);
}

export function matchesFilter(run: FilterableRun, filter: SearchFilter): boolean {
  return filter.every((clause) => matchesClause(run, clause));
}
