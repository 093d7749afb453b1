import { InputError } from "../errors.js";
import type { Experiment } from "../tracking/model.js";
import { likeMatches } from "./like-match.js";
import { parseIdentifier, tokenize } from "./search-filter.js";

function pySet(values: readonly string[]): string {
  return `{${values.map((v) => `'${v}'`).join(", ")}}`;
}

/**
 * MLflow's `experiments/search` filter and order_by (SearchExperimentsUtils): attributes `name`,
 * `creation_time`, `last_update_time` and `tags.<key>`, clauses joined by AND. Evaluated in memory:
 * a project holds few experiments.
 */
type Clause =
  | { kind: "string"; field: "name" | { tag: string }; op: string; value: string }
  | { kind: "number"; field: "creation_time" | "last_update_time"; op: string; value: number };

const NUMERIC = ["creation_time", "last_update_time"];
const STRING_OPS = ["=", "!=", "LIKE", "ILIKE"];
const NUMERIC_OPS = ["=", "!=", ">", ">=", "<", "<="];

export function parseExperimentFilter(filter: string | undefined): Clause[] {
  if (!filter || filter.trim() === "") return [];
  const tokens = tokenize(filter, "filter");
  const clauses: Clause[] = [];
  for (let i = 0; i < tokens.length; ) {
    const [ident, opToken, value] = [tokens[i], tokens[i + 1], tokens[i + 2]];
    const bad = () => new InputError(`Invalid filter '${filter}'. Could not be parsed.`);
    if (ident?.kind !== "ident" || !opToken || !value) throw bad();
    const op = opToken.kind === "op" ? opToken.text : opToken.upper;
    const { entity, key } = parseIdentifier(ident);
    const isTag = entity === "tag" || entity === "tags";
    if (!isTag && entity !== undefined && !["attribute", "attributes", "attr"].includes(entity)) {
      throw new InputError(`Invalid entity type '${entity}'. Valid values are ['attribute', 'tag']`);
    }
    if (!isTag && key !== "name" && !NUMERIC.includes(key)) {
      throw new InputError(
        `Invalid attribute key '${key}' specified. Valid keys are '${pySet(["name", ...NUMERIC])}'`,
      );
    }
    if (!isTag && NUMERIC.includes(key)) {
      if (!NUMERIC_OPS.includes(op))
        throw new InputError(`Invalid comparator '${op}' not one of '${pySet(NUMERIC_OPS)}'`);
      if (value.kind !== "number")
        throw new InputError(`Expected a numeric value for ${key}. Got value ${value.text}`);
      clauses.push({ kind: "number", field: key as "creation_time", op, value: Number(value.text) });
    } else {
      if (!STRING_OPS.includes(op))
        throw new InputError(`Invalid comparator '${op}' not one of '${pySet(STRING_OPS)}'`);
      if (value.kind !== "string")
        throw new InputError(`Expected a quoted string value. Got value ${value.text}`);
      clauses.push({ kind: "string", field: isTag ? { tag: key } : "name", op, value: value.value });
    }
    i += 3;
    if (i < tokens.length) {
      if (tokens[i].upper !== "AND" || i + 1 >= tokens.length) throw bad();
      i++;
    }
  }
  return clauses;
}

function matches(e: Experiment, c: Clause): boolean {
  if (c.kind === "number") {
    const v = c.field === "creation_time" ? e.creationTime : e.lastUpdateTime;
    return {
      "=": v === c.value,
      "!=": v !== c.value,
      ">": v > c.value,
      ">=": v >= c.value,
      "<": v < c.value,
      "<=": v <= c.value,
    }[c.op as "="];
  }
  const v = c.field === "name" ? e.name : e.tags[c.field.tag];
  if (v === undefined) return false;
  if (c.op === "=") return v === c.value;
  if (c.op === "!=") return v !== c.value;
  return likeMatches(v, c.value, c.op === "ILIKE");
}

export function filterExperiments(experiments: Experiment[], filter: string | undefined): Experiment[] {
  const clauses = parseExperimentFilter(filter);
  return experiments.filter((e) => clauses.every((c) => matches(e, c)));
}

const ORDER_FIELDS: Record<string, (e: Experiment) => string | number> = {
  name: (e) => e.name,
  experiment_id: (e) => Number(e.id),
  creation_time: (e) => e.creationTime,
  last_update_time: (e) => e.lastUpdateTime,
};

/** Default order: last_update_time DESC; experiment_id ASC breaks ties so paging is stable. */
export function sortExperiments(experiments: Experiment[], orderBy: string[] | undefined): Experiment[] {
  const clauses = (orderBy?.length ? orderBy : ["last_update_time DESC"]).map((entry) => {
    const m = /^\s*(?:attributes?\.)?(\w+)(?:\s+(ASC|DESC))?\s*$/i.exec(entry);
    const field = m ? ORDER_FIELDS[m[1]] : undefined;
    if (!m || !field) throw new InputError(`Invalid order_by clause '${entry}'. Could not be parsed.`);
    return { field, desc: (m[2] ?? "ASC").toUpperCase() === "DESC" };
  });
  clauses.push({ field: ORDER_FIELDS.experiment_id, desc: false });
  return [...experiments].sort((a, b) => {
    for (const c of clauses) {
      const x = c.field(a);
      const y = c.field(b);
      if (x !== y) return (x < y ? -1 : 1) * (c.desc ? -1 : 1);
    }
    return 0;
  });
}
