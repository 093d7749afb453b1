import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { type FilterableRun, matchesFilter, parseSearchFilter, tokenize } from "./search-filter.js";

describe("parseSearchFilter: accepted grammar", () => {
  it("returns no clauses for an absent or blank filter", () => {
    expect(parseSearchFilter(undefined)).toEqual([]);
    expect(parseSearchFilter(null)).toEqual([]);
    expect(parseSearchFilter("")).toEqual([]);
    expect(parseSearchFilter("   ")).toEqual([]);
  });

  it("parses metrics with every numeric comparator and number form", () => {
    expect(parseSearchFilter("metrics.acc > 0.9")).toEqual([
      { type: "metric", key: "acc", comparator: ">", value: 0.9 },
    ]);
    const cases: [string, string, number][] = [
      ["metrics.loss >= 1", ">=", 1],
      ["metrics.loss<=-2.5", "<=", -2.5],
      ["metrics.loss < 1e-3", "<", 0.001],
      ["metrics.loss = .5", "=", 0.5],
      ["metrics.loss != 3.", "!=", 3],
      ["metrics.loss > 2E+2", ">", 200],
    ];
    for (const [filter, comparator, value] of cases) {
      expect(parseSearchFilter(filter)).toEqual([{ type: "metric", key: "loss", comparator, value }]);
    }
  });

  it("accepts MLflow's entity aliases", () => {
    for (const e of ["metric", "metrics"]) expect(parseSearchFilter(`${e}.a > 1`)[0].type).toBe("metric");
    for (const e of ["param", "params", "parameter", "parameters"]) {
      expect(parseSearchFilter(`${e}.a = 'x'`)[0].type).toBe("param");
    }
    for (const e of ["tag", "tags"]) expect(parseSearchFilter(`${e}.a = 'x'`)[0].type).toBe("tag");
    for (const e of ["attribute", "attributes", "attr", "run"]) {
      expect(parseSearchFilter(`${e}.status = 'FINISHED'`)[0]).toEqual({
        type: "attribute",
        key: "status",
        comparator: "=",
        value: "FINISHED",
      });
    }
    expect(parseSearchFilter("status = 'RUNNING'")[0]).toMatchObject({ type: "attribute", key: "status" });
  });

  it("accepts backtick- and double-quoted keys and dotted bare keys", () => {
    expect(parseSearchFilter("metrics.`val loss` < 1")[0].key).toBe("val loss");
    expect(parseSearchFilter('metrics."train/loss" < 1')[0].key).toBe("train/loss");
    expect(parseSearchFilter("params.`learning-rate` = '0.1'")[0].key).toBe("learning-rate");
    expect(parseSearchFilter("tags.`mlflow.source.name` = 'x'")[0].key).toBe("mlflow.source.name");
    expect(parseSearchFilter("tags.mlflow.runName = 'x'")[0].key).toBe("mlflow.runName");
    expect(parseSearchFilter("`metrics`.acc > 1")[0]).toMatchObject({ type: "metric", key: "acc" });
  });

  it("takes single- or double-quoted string values, with escaped quotes", () => {
    expect(parseSearchFilter("params.opt = 'adam'")[0]).toMatchObject({ value: "adam" });
    expect(parseSearchFilter('params.opt = "adam"')[0]).toMatchObject({ value: "adam" });
    expect(parseSearchFilter("tags.note = 'it''s'")[0]).toMatchObject({ value: "it's" });
    expect(parseSearchFilter("tags.note = 'a\\'b'")[0]).toMatchObject({ value: "a'b" });
    expect(parseSearchFilter("tags.note = 'AND OR > 1'")[0]).toMatchObject({ value: "AND OR > 1" });
    expect(parseSearchFilter("tags.note = ''")[0]).toMatchObject({ value: "" });
  });

  it("accepts LIKE / ILIKE for params, tags and string attributes, case-insensitively", () => {
    expect(parseSearchFilter("params.model like 'res%'")[0]).toMatchObject({
      comparator: "LIKE",
      value: "res%",
    });
    expect(parseSearchFilter("tags.team ILIKE '%Vision%'")[0]).toMatchObject({ comparator: "ILIKE" });
    expect(parseSearchFilter("attributes.run_name LIKE 'exp-%'")[0]).toMatchObject({
      type: "attribute",
      key: "run_name",
      comparator: "LIKE",
    });
  });

  it("parses numeric attributes and the created / run name aliases", () => {
    expect(parseSearchFilter("attributes.start_time >= 1700000000000")[0]).toEqual({
      type: "attribute",
      key: "start_time",
      comparator: ">=",
      value: 1700000000000,
    });
    expect(parseSearchFilter("attributes.created > 5")[0]).toMatchObject({ key: "start_time" });
    expect(parseSearchFilter("attributes.`Run Name` = 'x'")[0]).toMatchObject({ key: "run_name" });
    expect(parseSearchFilter("attributes.end_time < 10")[0]).toMatchObject({ key: "end_time" });
  });

  it("parses IN and NOT IN lists for run_id", () => {
    expect(parseSearchFilter("attributes.run_id IN ('a1', 'b2')")[0]).toEqual({
      type: "attribute",
      key: "run_id",
      comparator: "IN",
      value: ["a1", "b2"],
    });
    expect(parseSearchFilter("run_id not in ('a1')")[0]).toMatchObject({
      comparator: "NOT IN",
      value: ["a1"],
    });
  });

  it("joins clauses with AND (any case)", () => {
    const clauses = parseSearchFilter(
      "metrics.acc > 0.9 AND params.lr = '0.01' and tags.team = 'vision' AND attributes.status = 'FINISHED'",
    );
    expect(clauses.map((c) => c.type)).toEqual(["metric", "param", "tag", "attribute"]);
  });
});

describe("parseSearchFilter: refusals with MLflow-like messages", () => {
  const refused: [string, RegExp][] = [
    ["metrics.acc > 0.9 OR metrics.acc < 0.1", /Invalid clause\(s\) in filter string: 'OR'/],
    ["metrics.acc > 0.9 AND", /Invalid clause\(s\) in filter string: 'AND'/],
    ["metrics.acc > 0.9 AND AND metrics.b < 1", /Invalid clause\(s\) in filter string: 'AND'/],
    ["metrics.acc >", /Invalid clause\(s\) in filter string: 'metrics.acc', '>'/],
    ["metrics.acc", /Invalid clause\(s\) in filter string: 'metrics.acc'/],
    ["(metrics.acc > 1)", /Invalid clause\(s\) in filter string: '\('/],
    ["metrics.acc > 1 metrics.b < 2", /Invalid clause\(s\) in filter string: 'metrics.b'/],
    [
      "foo.acc > 1",
      /Invalid entity type 'foo'. Valid values are \['metric', 'parameter', 'tag', 'attribute'\]/,
    ],
    ["datasets.name = 'x'", /Invalid entity type 'datasets'/],
    [
      "attributes.lifecycle_stage = 'active'",
      /Invalid attribute key 'lifecycle_stage' specified. Valid keys are/,
    ],
    ["nonsense = 'x'", /Invalid attribute key 'nonsense'/],
    ["metrics.acc > 'high'", /Expected numeric value type for metric. Found 'high'/],
    ["metrics.acc > high", /Expected numeric value type for metric. Found high/],
    ["params.lr = 0.1", /Expected a quoted string value for parameter \(e.g. 'my-value'\). Got value 0.1/],
    ["tags.team = vision", /Expected a quoted string value for tag \(e.g. 'my-value'\). Got value vision/],
    ["attributes.start_time > 'yesterday'", /Expected numeric value type for numeric attribute: start_time/],
    ["attributes.status = 5", /Expected a quoted string value for attributes. Got value 5/],
    ["metrics.acc LIKE '0.9%'", /Invalid comparator 'LIKE' not one of/],
    ["params.lr > '0.1'", /Invalid comparator '>' not one of '\{'!=', '=', 'LIKE', 'ILIKE'\}'/],
    ["attributes.start_time LIKE 1", /Invalid comparator 'LIKE'/],
    ["metrics.acc == 1", /Invalid comparator '=='/],
    ["metrics.acc <> 1", /Invalid comparator '<>'/],
    ["attributes.status IN ('A', 'B')", /Only the 'run_id' attribute supports comparison with a list/],
    ["attributes.run_id IN ()", /expected a non-empty list of string values, but got empty list/],
    ["attributes.run_id IN ('a' 'b')", /ill-formed list/],
    ["attributes.run_id IN ('a', 1)", /got different type in list/],
    ["attributes.run_id IN ('a',", /ill-formed list/],
    ["attributes.run_id = ('a')", /use IN or NOT IN/],
    ["attributes.run_id IN 'a'", /parenthesized list/],
    ["params.lr IN ('a')", /Invalid comparator 'IN'/],
    ["params.my-key = 'x'", /Could not be parsed: unexpected character '-'/],
    ["params.lr = 'unterminated", /Could not be parsed: unterminated ' quote/],
    ["metrics.acc > 1 ; DROP TABLE runs", /Could not be parsed: unexpected character ';'/],
    ["metrics.`a`.`b` > 1", /Invalid identifier/],
  ];

  it.each(refused)("refuses %j", (filter, message) => {
    expect(() => parseSearchFilter(filter)).toThrow(InputError);
    expect(() => parseSearchFilter(filter)).toThrow(message);
  });

  it("refuses over-long filters", () => {
    expect(() => parseSearchFilter(`metrics.a > 1${" AND metrics.a > 1".repeat(10_000)}`)).toThrow(
      /longer than/,
    );
  });
});

describe("tokenize", () => {
  it("keeps keywords, identifiers and values apart", () => {
    const kinds = tokenize("metrics.acc >= 0.5 AND run_id NOT IN ('x')", "filter").map((t) => t.kind);
    expect(kinds).toEqual([
      "ident",
      "op",
      "number",
      "keyword",
      "ident",
      "keyword",
      "keyword",
      "lparen",
      "string",
      "rparen",
    ]);
  });
});

function run(
  overrides: Partial<FilterableRun> & { id: string; attrs?: Partial<FilterableRun["attributes"]> },
): FilterableRun {
  return {
    metrics: overrides.metrics ?? {},
    params: overrides.params ?? {},
    tags: overrides.tags ?? {},
    attributes: { run_id: overrides.id, status: "FINISHED", start_time: 1000, ...overrides.attrs },
  };
}

describe("matchesFilter", () => {
  const runs = [
    run({
      id: "r1",
      metrics: { acc: 0.95, loss: 0.1 },
      params: { lr: "0.01", model: "ResNet18" },
      tags: { team: "vision" },
      attrs: { run_name: "exp-1", start_time: 100, end_time: 200, user_id: "alice" },
    }),
    run({
      id: "r2",
      metrics: { acc: 0.85, loss: Number.NaN },
      params: { lr: "0.1", model: "resnet50" },
      tags: { team: "Vision-Core" },
      attrs: { run_name: "exp-2", status: "RUNNING", start_time: 300, end_time: null },
    }),
    run({ id: "r3", metrics: {}, params: { model: "vit" }, attrs: { run_name: "other", start_time: 500 } }),
  ];
  const ids = (filter: string) =>
    runs.filter((r) => matchesFilter(r, parseSearchFilter(filter))).map((r) => r.attributes.run_id);

  it("compares metrics numerically; a missing metric matches nothing, not even !=", () => {
    expect(ids("metrics.acc > 0.9")).toEqual(["r1"]);
    expect(ids("metrics.acc >= 0.85")).toEqual(["r1", "r2"]);
    expect(ids("metrics.acc != 0.95")).toEqual(["r2"]);
    expect(ids("metrics.acc = 0.95")).toEqual(["r1"]);
  });

  it("treats NaN as IEEE does: only != holds", () => {
    expect(ids("metrics.loss < 1")).toEqual(["r1"]);
    expect(ids("metrics.loss >= 0")).toEqual(["r1"]);
    expect(ids("metrics.loss != 0.1")).toEqual(["r2"]);
  });

  it("compares params and tags as strings, LIKE case-sensitive and ILIKE not", () => {
    expect(ids("params.lr = '0.01'")).toEqual(["r1"]);
    expect(ids("params.lr != '0.01'")).toEqual(["r2"]);
    expect(ids("params.model LIKE 'res%'")).toEqual(["r2"]);
    expect(ids("params.model ILIKE 'res%'")).toEqual(["r1", "r2"]);
    expect(ids("params.model LIKE 'v_t'")).toEqual(["r3"]);
    expect(ids("tags.team ILIKE '%vision%'")).toEqual(["r1", "r2"]);
    expect(ids("tags.team LIKE 'vision'")).toEqual(["r1"]);
  });

  it("compares attributes, with null end_time matching nothing", () => {
    expect(ids("attributes.status = 'RUNNING'")).toEqual(["r2"]);
    expect(ids("attributes.start_time > 200")).toEqual(["r2", "r3"]);
    expect(ids("attributes.created <= 300")).toEqual(["r1", "r2"]);
    expect(ids("attributes.end_time > 0")).toEqual(["r1"]);
    expect(ids("attributes.run_name LIKE 'exp-%'")).toEqual(["r1", "r2"]);
    expect(ids("attributes.user_id = 'alice'")).toEqual(["r1"]);
    expect(ids("attributes.run_id IN ('r1', 'r3')")).toEqual(["r1", "r3"]);
    expect(ids("attributes.run_id NOT IN ('r1', 'r3')")).toEqual(["r2"]);
  });

  it("requires every AND-ed clause", () => {
    expect(
      ids("metrics.acc > 0.8 AND params.model ILIKE 'RESNET%' AND attributes.status = 'FINISHED'"),
    ).toEqual(["r1"]);
    expect(ids("")).toEqual(["r1", "r2", "r3"]);
  });

  it("does not see inherited object properties as keys", () => {
    expect(ids("params.constructor != 'x'")).toEqual([]);
    expect(ids("tags.toString LIKE '%'")).toEqual([]);
  });
});
