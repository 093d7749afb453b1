import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseOrderByList, sortRuns } from "../src/mlflow/order-by.js";
import { type FilterableRun, matchesFilter, parseSearchFilter } from "../src/mlflow/search-filter.js";
import { canonicalLikePattern, globPattern } from "../src/store/dialect.js";
import type { Store } from "../src/store/open-store.js";
import { SqlTrackingStore } from "../src/store/repositories/tracking.js";
import type { Run } from "../src/tracking/model.js";
import { createMigratedStore, describeEachDatabase } from "./support/databases.js";

/**
 * runs/search in SQL (src/store/repositories/tracking-search.ts) against MLflow's in-memory semantics
 * (matchesFilter + sortRuns) on the same random runs, for a table of filters and orders, on both databases.
 */
const RUNS = 60;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function filterable(run: Run): FilterableRun & { id: string } {
  return {
    id: run.info.runId,
    metrics: Object.fromEntries(run.metrics.map((m) => [m.key, m.value])),
    params: run.params,
    tags: run.tags,
    attributes: {
      run_id: run.info.runId,
      run_name: run.info.runName,
      status: run.info.status,
      user_id: run.info.userId,
      artifact_uri: run.info.artifactUri,
      start_time: run.info.startTime,
      end_time: run.info.endTime,
    },
  };
}

const FILTERS = [
  "",
  "metrics.acc > 0.5",
  "metrics.acc >= 0.25 AND metrics.loss < 2",
  "metrics.acc != 0.5",
  "metrics.acc = 0.5",
  "metrics.loss <= 1",
  "params.lr = '0.1'",
  "params.lr != '0.1'",
  "params.opt LIKE 'Ad%'",
  "params.opt ILIKE 'ad%'",
  "params.opt LIKE '%a_'",
  "tags.`a b` LIKE '%x%'",
  "tags.`a b` ILIKE '%X%'",
  "tags.note LIKE '50\\%%'",
  "tags.note LIKE '%[*]%'",
  "tags.note ILIKE '50\\%%'",
  "attributes.status = 'FINISHED'",
  "attributes.status != 'RUNNING'",
  "run_name LIKE 'run-1%'",
  "attributes.start_time > 1030",
  "attributes.end_time <= 1040",
  "attributes.end_time != 0",
  "attributes.user_id = 'alice'",
  "attributes.run_id IN ('r00000000000000000000000000000003', 'r00000000000000000000000000000007')",
  "attributes.run_id NOT IN ('r00000000000000000000000000000003')",
  "metrics.acc > 0.1 AND params.lr = '0.01' AND tags.`a b` LIKE '%'",
];

const ORDERS: string[][] = [
  [],
  ["metrics.acc DESC"],
  ["metrics.acc"],
  ["params.lr", "metrics.loss DESC"],
  ["tags.`a b` DESC"],
  ["attributes.end_time"],
  ["attributes.run_name DESC"],
  ["attributes.status", "attributes.start_time ASC"],
];

describeEachDatabase("runs/search in SQL", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let tracking: SqlTrackingStore;
  let expected: Array<FilterableRun & { id: string }>;
  let experimentId: string;

  beforeAll(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    await store.db.insertInto("users").values({ id: "u", name: "t", role: "admin", created_at: 1 }).execute();
    await store.db
      .insertInto("projects")
      .values({ id: "p", name: "t", description: "", created_at: 1, created_by: "u", quotas: "{}" })
      .execute();
    tracking = new SqlTrackingStore(store);
    const exp = await tracking.insertExperiment({
      projectId: "p",
      name: "search",
      artifactLocation: "x",
      createdBy: "u",
      at: 1,
      tags: [],
    });
    experimentId = exp.id;
    const random = rng(7);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
    for (let i = 0; i < RUNS; i++) {
      const runId = `r${String(i).padStart(31, "0")}`;
      await tracking.insertRun(
        {
          runId,
          experimentId,
          projectId: "p",
          runName: `run-${i}`,
          status: pick(["RUNNING", "FINISHED", "FAILED"] as const),
          // Repeated start times exercise the run id tie-break.
          startTime: 1000 + Math.floor(random() * 60),
          endTime: random() < 0.3 ? null : 1000 + Math.floor(random() * 80),
          lifecycleStage: i % 13 === 0 ? "deleted" : "active",
          userId: pick(["alice", "bob", "Alice"]),
          artifactUri: "x",
        },
        [],
      );
      const metrics = [];
      for (const key of ["acc", "loss"]) {
        if (random() < 0.2) continue; // missing
        const value = random() < 0.1 ? Number.NaN : pick([0.5, 0.25, random(), random() * 3]);
        metrics.push({ key, value, timestamp: 1, step: 0 });
      }
      const params = [];
      if (random() < 0.8) params.push({ key: "lr", value: pick(["0.1", "0.01", "1e-3"]) });
      if (random() < 0.8) params.push({ key: "opt", value: pick(["Adam", "adamw", "sgd", "Ada"]) });
      const tags = [];
      if (random() < 0.8) tags.push({ key: "a b", value: pick(["xyz", "X", "none", "a_x"]) });
      if (random() < 0.5) tags.push({ key: "note", value: pick(["50% done", "50x", "[*] star", "plain"]) });
      await tracking.logBatch(runId, { metrics, params, tags });
    }
    const all = await tracking.listRuns({ experimentIds: [experimentId], lifecycle: "active" });
    expected = all.map(filterable);
  });

  afterAll(async () => cleanup?.());

  it("returns what the in-memory evaluator returns, in MLflow's order, for every filter x order", async () => {
    let nonEmpty = 0;
    for (const filterText of FILTERS) {
      for (const orderText of ORDERS) {
        const filter = parseSearchFilter(filterText);
        const orderBy = parseOrderByList(orderText);
        const want = sortRuns(
          expected.filter((r) => matchesFilter(r, filter)),
          orderBy,
        ).map((r) => r.id);
        const got = await tracking.searchRuns({
          experimentIds: [experimentId],
          lifecycle: "active",
          filter,
          orderBy,
          offset: 0,
          limit: 1000,
        });
        expect(
          got.runs.map((r) => r.info.runId),
          `${filterText} | ${orderText.join(", ")}`,
        ).toEqual(want);
        expect(got.hasMore).toBe(false);
        if (want.length > 0 && want.length < expected.length) nonEmpty++;
      }
    }
    // The table is only a test when most filters select a proper subset.
    expect(nonEmpty).toBeGreaterThan(FILTERS.length * ORDERS.length * 0.6);
  });

  it("pages through the same order without gaps or repeats", async () => {
    const filter = parseSearchFilter("metrics.acc >= 0");
    const orderBy = parseOrderByList(["params.lr DESC"]);
    const want = sortRuns(
      expected.filter((r) => matchesFilter(r, filter)),
      orderBy,
    ).map((r) => r.id);
    const seen: string[] = [];
    for (let offset = 0; ; offset += 7) {
      const page = await tracking.searchRuns({
        experimentIds: [experimentId],
        lifecycle: "active",
        filter,
        orderBy,
        offset,
        limit: 7,
      });
      seen.push(...page.runs.map((r) => r.info.runId));
      if (!page.hasMore) break;
    }
    expect(seen).toEqual(want);
    expect(want.length).toBeGreaterThan(14);
  });

  it("finds deleted runs only when asked, and returns full runs", async () => {
    const deleted = await tracking.searchRuns({
      experimentIds: [experimentId],
      lifecycle: "deleted",
      filter: [],
      orderBy: [],
      offset: 0,
      limit: 100,
    });
    expect(deleted.runs.map((r) => r.info.runId).sort()).toEqual(
      Array.from({ length: RUNS }, (_, i) => i)
        .filter((i) => i % 13 === 0)
        .map((i) => `r${String(i).padStart(31, "0")}`),
    );
    const [one] = (
      await tracking.searchRuns({
        experimentIds: [experimentId],
        lifecycle: "active",
        filter: parseSearchFilter("params.lr = '0.1'"),
        orderBy: [],
        offset: 0,
        limit: 1,
      })
    ).runs;
    expect(one.params.lr).toBe("0.1");
  });
});

describe("LIKE patterns for SQL", () => {
  it("turn into GLOB with literal *, ? and [ bracketed, escapes honoured", () => {
    expect(globPattern("a%b_c")).toBe("a*b?c");
    expect(globPattern("50\\%*?[x]")).toBe("50%[*][?][[]x]");
    expect(globPattern("\\_")).toBe("_");
    expect(globPattern("end\\")).toBe("end\\");
  });
  it("keep a trailing lone backslash literal for PostgreSQL", () => {
    expect(canonicalLikePattern("a\\")).toBe("a\\\\");
    expect(canonicalLikePattern("a\\%b")).toBe("a\\%b");
  });
});
