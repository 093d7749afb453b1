import { InputError } from "../errors.js";
import type { LoggedModel } from "../tracking/logged-models-model.js";
import { likeMatches } from "./like-match.js";
import { parseIdentifier, type Token, tokenize } from "./search-filter.js";

/**
 * `logged-models/search` filter and order_by (MLflow's `search_logged_models`): clauses joined by AND over
 * attributes (`name`, `model_id`, `model_type`, `status`, `source_run_id`, `creation_timestamp`,
 * `last_updated_timestamp`), `params.<key>` and `tags.<key>`, e.g.
 * `source_run_id = '<run>' AND name = 'model'`. Evaluated in memory over one experiment list; LIKE uses the
 * linear matcher. A model without the param/tag matches no clause. Model metrics are not recorded here, so
 * `metrics.*` is refused with a clear message instead of matching nothing.
 */
type Getter<T> = (m: LoggedModel) => T;
type Clause =
  | { kind: "string"; get: Getter<string | null | undefined>; op: string; value: string | string[] }
  | { kind: "number"; get: Getter<number>; op: string; value: number };

const STRING_ATTRIBUTES: Record<string, Getter<string | null>> = {
  name: (m) => m.name,
  model_id: (m) => m.id,
  model_type: (m) => m.modelType,
  status: (m) => m.status,
  source_run_id: (m) => m.sourceRunId,
};
const NUMBER_ATTRIBUTES: Record<string, Getter<number>> = {
  creation_timestamp: (m) => m.createdAt,
  creation_time: (m) => m.createdAt,
  last_updated_timestamp: (m) => m.updatedAt,
};
const STRING_OPS = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
const NUMBER_OPS = ["=", "!=", ">", ">=", "<", "<="];

function bad(filter: string, why: string): InputError {
  return new InputError(`Invalid filter '${filter}': ${why}`);
}

function readComparator(tokens: Token[], i: number): { op: string; width: number } | undefined {
  const t = tokens[i];
  if (t?.kind === "op") return { op: t.text === "==" ? "=" : t.text === "<>" ? "!=" : t.text, width: 1 };
  if (t?.kind !== "keyword") return undefined;
  if (t.upper === "NOT" && tokens[i + 1]?.upper === "IN") return { op: "NOT IN", width: 2 };
  return ["LIKE", "ILIKE", "IN"].includes(t.upper) ? { op: t.upper, width: 1 } : undefined;
}

function readList(filter: string, tokens: Token[], open: number): { values: string[]; end: number } {
  const values: string[] = [];
  for (let i = open + 1; ; i += 2) {
    const t = tokens[i];
    if (t?.kind !== "string") throw bad(filter, "IN lists hold quoted strings: ('a', 'b')");
    values.push(t.value);
    if (tokens[i + 1]?.kind === "rparen") return { values, end: i + 2 };
    if (tokens[i + 1]?.kind !== "comma") throw bad(filter, "expected ',' or ')' in the IN list");
  }
}

function fieldOf(
  filter: string,
  ident: Token,
): { kind: "string"; get: Getter<string | undefined | null> } | { kind: "number"; get: Getter<number> } {
  const { entity, key } = parseIdentifier(ident);
  const type = entity?.toLowerCase();
  if (type === "param" || type === "params") return { kind: "string", get: (m) => m.params[key] };
  if (type === "tag" || type === "tags") return { kind: "string", get: (m) => m.tags[key] };
  if (type === "metric" || type === "metrics") {
    throw bad(filter, "this server records no logged-model metrics; filter on params, tags or attributes");
  }
  if (type !== undefined && !["attribute", "attributes", "attr"].includes(type)) {
    throw bad(filter, `unknown entity '${entity}' (use params., tags. or an attribute)`);
  }
  if (Object.hasOwn(STRING_ATTRIBUTES, key)) return { kind: "string", get: STRING_ATTRIBUTES[key] };
  if (Object.hasOwn(NUMBER_ATTRIBUTES, key)) return { kind: "number", get: NUMBER_ATTRIBUTES[key] };
  const known = [...Object.keys(STRING_ATTRIBUTES), ...Object.keys(NUMBER_ATTRIBUTES)].join(", ");
  throw bad(filter, `unknown attribute '${key}' (searchable: ${known}, params.<key>, tags.<key>)`);
}

export function parseLoggedModelFilter(filter: string | undefined): Clause[] {
  if (!filter?.trim()) return [];
  const tokens = tokenize(filter, "filter");
  const clauses: Clause[] = [];
  let i = 0;
  while (i < tokens.length) {
    const ident = tokens[i];
    if (ident?.kind !== "ident") throw bad(filter, `expected a name at '${ident?.text ?? ""}'`);
    const field = fieldOf(filter, ident);
    const comparator = readComparator(tokens, i + 1);
    if (!comparator) throw bad(filter, `expected a comparator after '${ident.text}'`);
    const { op } = comparator;
    i += 1 + comparator.width;
    const value = tokens[i];
    if (field.kind === "number") {
      if (!NUMBER_OPS.includes(op)) throw bad(filter, `'${op}' does not apply to ${ident.text}`);
      if (value?.kind !== "number") throw bad(filter, `${ident.text} takes a number`);
      clauses.push({ kind: "number", get: field.get, op, value: Number(value.text) });
      i++;
    } else {
      if (!STRING_OPS.includes(op)) throw bad(filter, `'${op}' does not apply to ${ident.text}`);
      if (op === "IN" || op === "NOT IN") {
        if (value?.kind !== "lparen") throw bad(filter, `${op} needs a list: ('a', 'b')`);
        const list = readList(filter, tokens, i);
        clauses.push({ kind: "string", get: field.get, op, value: list.values });
        i = list.end;
      } else {
        if (value?.kind !== "string") throw bad(filter, `${ident.text} takes a quoted string`);
        clauses.push({ kind: "string", get: field.get, op, value: value.value });
        i++;
      }
    }
    if (i < tokens.length) {
      if (tokens[i].upper !== "AND" || i + 1 >= tokens.length) throw bad(filter, "clauses are joined by AND");
      i++;
    }
  }
  return clauses;
}

function matches(m: LoggedModel, c: Clause): boolean {
  if (c.kind === "number") {
    const v = c.get(m);
    return {
      "=": v === c.value,
      "!=": v !== c.value,
      ">": v > c.value,
      ">=": v >= c.value,
      "<": v < c.value,
      "<=": v <= c.value,
    }[c.op as "="];
  }
  const v = c.get(m);
  if (v === undefined || v === null) return false;
  switch (c.op) {
    case "=":
      return v === c.value;
    case "!=":
      return v !== c.value;
    case "IN":
      return (c.value as string[]).includes(v);
    case "NOT IN":
      return !(c.value as string[]).includes(v);
    default:
      return likeMatches(v, c.value as string, c.op === "ILIKE");
  }
}

export function filterLoggedModels(models: LoggedModel[], filter: string | undefined): LoggedModel[] {
  const clauses = parseLoggedModelFilter(filter);
  return models.filter((m) => clauses.every((c) => matches(m, c)));
}

const ORDER_FIELDS: Record<string, Getter<string | number>> = {
  name: (m) => m.name,
  model_id: (m) => m.id,
  model_type: (m) => m.modelType ?? "",
  status: (m) => m.status,
  source_run_id: (m) => m.sourceRunId ?? "",
  creation_timestamp: (m) => m.createdAt,
  creation_time: (m) => m.createdAt,
  last_updated_timestamp: (m) => m.updatedAt,
};

/** `order_by: [{field_name, ascending}]`; default newest first; model_id breaks ties so pages are stable. */
export function sortLoggedModels(models: LoggedModel[], orderBy: unknown): LoggedModel[] {
  const entries =
    orderBy === undefined || orderBy === null ? [] : Array.isArray(orderBy) ? orderBy : [orderBy];
  const keys = entries.map((entry) => {
    const e = (typeof entry === "string" ? { field_name: entry } : entry) as Record<string, unknown>;
    const name = String(e?.field_name ?? "").replace(/^attributes?\./, "");
    if (e === null || typeof e !== "object" || !Object.hasOwn(ORDER_FIELDS, name)) {
      throw new InputError(
        `Invalid order_by entry ${JSON.stringify(entry)}: field_name one of ${Object.keys(ORDER_FIELDS).join(", ")}`,
      );
    }
    const ascending = e.ascending === undefined ? true : e.ascending === true || e.ascending === "true";
    return { get: ORDER_FIELDS[name], ascending };
  });
  if (keys.length === 0) keys.push({ get: ORDER_FIELDS.creation_timestamp, ascending: false });
  keys.push({ get: ORDER_FIELDS.model_id, ascending: true });
  return [...models].sort((a, b) => {
    for (const k of keys) {
      const x = k.get(a);
      const y = k.get(b);
      if (x !== y) return (x < y ? -1 : 1) * (k.ascending ? 1 : -1);
    }
    return 0;
  });
}
