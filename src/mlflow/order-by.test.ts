import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { parseOrderBy, parseOrderByList, sortRuns } from "./order-by.js";
import type { FilterableRun } from "./search-filter.js";

describe("parseOrderBy", () => {
  it.each([
    ["metrics.acc DESC", { type: "metric", key: "acc", ascending: false }],
    ["metrics.acc desc", { type: "metric", key: "acc", ascending: false }],
    ["attributes.start_time ASC", { type: "attribute", key: "start_time", ascending: true }],
    ["params.lr", { type: "param", key: "lr", ascending: true }],
    ["tags.`mlflow.runName` DESC", { type: "tag", key: "mlflow.runName", ascending: false }],
    ["metrics.`val loss`", { type: "metric", key: "val loss", ascending: true }],
    ['metrics."train/loss" ASC', { type: "metric", key: "train/loss", ascending: true }],
    ["start_time DESC", { type: "attribute", key: "start_time", ascending: false }],
    ["attribute.created", { type: "attribute", key: "start_time", ascending: true }],
    ["run.run_name", { type: "attribute", key: "run_name", ascending: true }],
    ["  metrics.acc   DESC  ", { type: "metric", key: "acc", ascending: false }],
  ])("parses %j", (entry, expected) => {
    expect(parseOrderBy(entry)).toEqual(expected);
  });

  it.each([
    ["metrics.acc DOWN", /Invalid ordering key in order_by clause 'metrics.acc DOWN'/],
    ["metrics.acc DESC extra", /Invalid order_by clause 'metrics.acc DESC extra'. Could not be parsed./],
    ["", /Invalid order_by clause ''. Could not be parsed./],
    ["DESC", /Invalid attribute key 'DESC'/],
    ["'metrics.acc'", /Could not be parsed/],
    ["metrics.acc > 1", /Could not be parsed/],
    ["foo.bar", /Invalid entity type 'foo'/],
    ["attributes.lifecycle_stage", /Invalid attribute key 'lifecycle_stage'/],
    ["attributes.`run name`", /Invalid attribute key 'run name'/],
    ["metrics.a-b", /Could not be parsed: unexpected character '-'/],
  ])("refuses %j", (entry, message) => {
    expect(() => parseOrderBy(entry)).toThrow(InputError);
    expect(() => parseOrderBy(entry)).toThrow(message);
  });

  it("parses a list and bounds its length", () => {
    expect(parseOrderByList(undefined)).toEqual([]);
    expect(parseOrderByList(["metrics.acc DESC", "params.lr"]).map((c) => c.key)).toEqual(["acc", "lr"]);
    expect(() => parseOrderByList(Array(101).fill("params.lr"))).toThrow(/At most 100/);
  });
});

function run(
  id: string,
  startTime: number,
  metrics: Record<string, number> = {},
  params: Record<string, string> = {},
): FilterableRun {
  return { metrics, params, tags: {}, attributes: { run_id: id, status: "FINISHED", start_time: startTime } };
}

describe("sortRuns", () => {
  const runs = [
    run("b", 100, { acc: 0.9 }, { lr: "0.1" }),
    run("a", 100, { acc: Number.NaN }, { lr: "0.01" }),
    run("c", 300, {}, {}),
    run("d", 200, { acc: 0.7 }, { lr: "0.1" }),
    run("e", 50, { acc: 0.9 }),
  ];
  const order = (...entries: string[]) =>
    sortRuns(runs, parseOrderByList(entries)).map((r) => r.attributes.run_id);

  it("defaults to start_time descending, then run_id ascending", () => {
    expect(order()).toEqual(["c", "d", "a", "b", "e"]);
  });

  it("orders metrics with NaN and then missing values last in both directions", () => {
    expect(order("metrics.acc DESC")).toEqual(["b", "e", "d", "a", "c"]);
    expect(order("metrics.acc ASC")).toEqual(["d", "b", "e", "a", "c"]);
  });

  it("breaks ties with later clauses, then with the natural order", () => {
    // c and e both lack lr; e has acc and c does not, so e comes first.
    expect(order("params.lr DESC", "metrics.acc")).toEqual(["d", "b", "a", "e", "c"]);
    expect(order("params.lr")).toEqual(["a", "d", "b", "c", "e"]);
  });

  it("orders by attributes", () => {
    expect(order("attributes.start_time ASC")).toEqual(["e", "a", "b", "d", "c"]);
    expect(order("attributes.run_id DESC")).toEqual(["e", "d", "c", "b", "a"]);
  });

  it("does not reorder the input array", () => {
    sortRuns(runs, parseOrderByList(["metrics.acc"]));
    expect(runs.map((r) => r.attributes.run_id)).toEqual(["b", "a", "c", "d", "e"]);
  });
});
