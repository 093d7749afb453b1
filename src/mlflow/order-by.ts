import { InputError } from "../errors.js";
import {
  type EntityType,
  type FilterableRun,
  NUMERIC_ATTRIBUTES,
  type RunAttribute,
  STRING_ATTRIBUTES,
  parseIdentifier,
  resolveIdentifier,
  tokenize,
} from "./search-filter.js";

/**
 * MLflow's `order_by` entries for `search_runs`: `<identifier> [ASC|DESC]`, e.g. `metrics.acc DESC`,
 * `attributes.start_time ASC`, `params.lr`, ``metrics.`val loss` DESC``. Ascending by default. Follows
 * `SearchUtils.parse_order_by_for_search_runs` in mlflow/utils/search_utils.py: the same entity
 * aliases as filters, attribute keys artifact_uri, end_time, run_id, run_name, start_time, status,
 * user_id (and `created` for start_time).
 */
export interface OrderByClause {
  type: EntityType;
  /** Canonical key: aliases resolved (`created` -> `start_time`). */
  key: string;
  ascending: boolean;
}

const ORDERABLE_ATTRIBUTE_KEYS = [...NUMERIC_ATTRIBUTES, ...STRING_ATTRIBUTES, "created", "Created"];
const MAX_ORDER_BY_ENTRIES = 100;

export function parseOrderBy(entry: string): OrderByClause {
  const unparsable = () => new InputError(`Invalid order_by clause '${entry}'. Could not be parsed.`);
  const tokens = tokenize(entry, "order_by clause");
  const [ident, direction, ...extra] = tokens;
  if (ident?.kind !== "ident" || extra.length > 0) throw unparsable();
  let ascending = true;
  if (direction !== undefined) {
    if (direction.kind !== "ident" || !["ASC", "DESC"].includes(direction.upper)) {
      throw new InputError(`Invalid ordering key in order_by clause '${entry}'.`);
    }
    ascending = direction.upper === "ASC";
  }
  const { entity, key } = parseIdentifier(ident);
  return { ...resolveIdentifier(entity, key, ORDERABLE_ATTRIBUTE_KEYS), ascending };
}

/** Parses each entry; absent or empty means the default order. */
export function parseOrderByList(entries: readonly string[] | undefined | null): OrderByClause[] {
  if (!entries) return [];
  if (entries.length > MAX_ORDER_BY_ENTRIES) {
    throw new InputError(
      `At most ${MAX_ORDER_BY_ENTRIES} order_by entries are allowed, got ${entries.length}`,
    );
  }
  return entries.map(parseOrderBy);
}

type SortValue = string | number | null | undefined;

function sortValue(run: FilterableRun, clause: OrderByClause): SortValue {
  const pick = <T>(record: Readonly<Record<string, T>>) =>
    Object.hasOwn(record, clause.key) ? record[clause.key] : undefined;
  switch (clause.type) {
    case "metric":
      return pick(run.metrics);
    case "param":
      return pick(run.params);
    case "tag":
      return pick(run.tags);
    case "attribute":
      return run.attributes[clause.key as RunAttribute]; // aliases were resolved when parsing
  }
}

/** 0 for a real value, 1 for NaN, 2 for missing: MLflow puts NaN and then missing last, in both directions. */
function rank(v: SortValue): number {
  if (v === undefined || v === null) return 2;
  return typeof v === "number" && Number.isNaN(v) ? 1 : 0;
}

function compareClause(a: FilterableRun, b: FilterableRun, clause: OrderByClause): number {
  const va = sortValue(a, clause);
  const vb = sortValue(b, clause);
  const ra = rank(va);
  const rb = rank(vb);
  if (ra !== rb || ra !== 0) return ra - rb;
  const order = (va as string | number) < (vb as string | number) ? -1 : va === vb ? 0 : 1;
  return clause.ascending ? order : -order;
}

/**
 * A comparator with MLflow's ordering: the given clauses in turn, then its natural order — start_time
 * descending, then run_id ascending — so that paging over equal keys is stable.
 */
export function compareRunsForOrder(
  clauses: readonly OrderByClause[],
): (a: FilterableRun, b: FilterableRun) => number {
  return (a, b) => {
    for (const clause of clauses) {
      const c = compareClause(a, b, clause);
      if (c !== 0) return c;
    }
    if (a.attributes.start_time !== b.attributes.start_time)
      return b.attributes.start_time - a.attributes.start_time;
    return a.attributes.run_id < b.attributes.run_id ? -1 : a.attributes.run_id > b.attributes.run_id ? 1 : 0;
  };
}

/** Returns a sorted copy. */
export function sortRuns<T extends FilterableRun>(
  runs: readonly T[],
  clauses: readonly OrderByClause[],
): T[] {
  return [...runs].sort(compareRunsForOrder(clauses));
}
