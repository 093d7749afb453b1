/**
 * Measured validation (docs/architecture/registry.md): the platform runs the evaluation itself, a typed-in
 * number no longer reaches production under a platform gate, a version is never evaluated on items it was
 * trained on, and an older version goes back to production only when compared on the same snapshot.
 */
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { DetectionPrediction, ImagePrediction } from "../src/serving/runner/model-runner.js";
import { tokenFor } from "./registry-helpers.js";
import { addVersion, fixtureBytes, noisePng } from "./serving-fixtures.js";
import { labeledSnapshot, reportSnapshot } from "./snapshot-helpers.js";
import { runCliProcess } from "./support/cli.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

type Record_ = {
  id: string;
  version: number;
  snapshot: string;
  passed: boolean;
  provenance: string;
  metrics: Record<string, number>;
  evaluation: {
    split: string;
    itemCount: number;
    itemSetSha256: string;
    evaluator: string;
    trainingData: string;
  };
  decision: { reasons: string[]; notes: string[] };
};
type Outcome = { record: Record_; production?: Record_ };
const CLASSES = ["circle", "square", "triangle"];
const GATE = { metric: "accuracy", direction: "higher", min: 0.5, maxRegression: 0.05 };

async function versionId(server: TestServer, model: string, version: number): Promise<string> {
  return ((await server.call("GET", `/api/v1/models/${model}/versions/${version}`)).body as { id: string })
    .id;
}

/** What serving answers for the images (the expected values are built from it, then checked by hand). */
async function predict(server: TestServer, id: string, images: Buffer[]): Promise<ImagePrediction[]> {
  const handle = await server.platform.serving.models.acquire(id);
  try {
    return (await handle.runner.predictImages(handle.model.key, images, { topK: 1 })).predictions;
  } finally {
    handle.release();
  }
}

const topLabel = (p: ImagePrediction) => (p.task === "classification" ? p.labels[0].label : "");
const otherThan = (label: string) => CLASSES.find((c) => c !== label) as string;

describeEachDatabase("measured validation: mlops model evaluate", (kind) => {
  let server: TestServer;
  let images: Buffer[];
  /** 10 holdout items of which exactly 7 are labelled with what the classifier answers: accuracy 0.7. */
  let s1: string;
  let s1Items: Array<{ id: string; key: string }>;
  let engineer: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    engineer = await tokenFor(server, "erin", "engineer");
    expect((await server.call("POST", "/api/v1/models", { name: "cls", gate: GATE })).status).toBe(201);
    await addVersion(server, "cls", fixtureBytes("tiny-classifier"));
    images = await Promise.all(Array.from({ length: 10 }, (_, i) => noisePng(32, 32, 100 + i)));
    const answers = (await predict(server, await versionId(server, "cls", 1), images)).map(topLabel);
    const labels = answers.map((label, i) => ({ class: i < 7 ? label : otherThan(label) }));
    ({ snapshot: s1, items: s1Items } = await labeledSnapshot(server, {
      dataset: "holdout-a",
      task: "classification",
      classes: CLASSES,
      images,
      labels,
    }));
  });
  afterAll(async () => server?.stop());

  it("does not let a typed-in metric promote under a platform gate (the default for new gates)", async () => {
    const model = (await server.call("GET", "/api/v1/models/cls")).body as { gate: { require: string } };
    expect(model.gate.require).toBe("platform");
    await server.call("POST", "/api/v1/models/cls/versions/1/transition", { stage: "staging", reason: "t" });
    const typed = await server.call("POST", "/api/v1/models/cls/versions/1/validations", {
      snapshot: s1,
      metrics: { accuracy: 0.99 },
    });
    expect(typed.status).toBe(201);
    expect(typed.body).toMatchObject({ provenance: "reported", passed: false, evaluation: null });
    expect((typed.body as Record_).decision.reasons[0]).toContain("requires a platform-measured validation");
    const refused = await server.call("POST", "/api/v1/models/cls/versions/1/promote", { reason: "typed" });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).toContain("record(s) were reported by hand");
    expect(JSON.stringify(refused.body)).toContain("mlops model evaluate cls 1 --snapshot S");
    expect(
      ((await server.call("GET", "/api/v1/models/cls/versions/1")).body as { stage: string }).stage,
    ).toBe("staging");
  });

  it("measures accuracy itself, records provenance, and that record promotes", async () => {
    const measured = await server.call(
      "POST",
      "/api/v1/models/cls/versions/1/evaluate",
      { snapshot: s1.slice(0, 16) },
      engineer,
    );
    expect(measured.status, JSON.stringify(measured.body)).toBe(201);
    const { record, production } = measured.body as Outcome;
    expect(production).toBeUndefined();
    expect(record).toMatchObject({ provenance: "platform", passed: true, snapshot: s1, version: 1 });
    expect(record.metrics.accuracy).toBeCloseTo(0.7, 12);
    expect(record.metrics.items).toBe(10);
    const perClass = Object.keys(record.metrics).filter((k) => k.startsWith("accuracy/"));
    expect(perClass.length).toBeGreaterThan(0);
    expect(record.evaluation).toMatchObject({
      split: "holdout",
      itemCount: 10,
      evaluator: expect.stringMatching(/^mlops-evaluator\//),
    });
    const { itemSetSha256 } = await import("../src/evaluation/item-set.js");
    expect(record.evaluation.itemSetSha256).toBe(itemSetSha256(s1Items.map((i) => i.id)));
    expect(record.evaluation.trainingData).toContain("unknown"); // an uploaded version has no lineage

    const promoted = await server.call("POST", "/api/v1/models/cls/versions/1/promote", {
      reason: "measured",
    });
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect((promoted.body as { transition: { evidence: string } }).transition.evidence).toBe(record.id);
  });

  it("streams progress as NDJSON, then the result", async () => {
    const response = await fetch(`${server.url}/api/v1/models/cls/versions/1/evaluate`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${server.adminToken}`,
        "content-type": "application/json",
        accept: "application/x-ndjson",
      },
      body: JSON.stringify({ snapshot: s1 }),
    });
    expect(response.status).toBe(200);
    const lines = (await response.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { progress?: { done: number; total: number }; result?: Outcome });
    expect(lines[0].progress).toEqual({ done: 10, total: 10, version: 1 });
    expect(lines.at(-1)?.result?.record.metrics.accuracy).toBeCloseTo(0.7, 12);
  });

  it("refuses bad requests with a clear 4xx and records nothing", async () => {
    const before = (
      (await server.call("GET", "/api/v1/models/cls/validations")).body as { validations: unknown[] }
    ).validations.length;
    const missing = await server.call("POST", "/api/v1/models/cls/versions/1/evaluate", {
      snapshot: "f".repeat(64),
    });
    expect(missing.status).toBe(404);
    const badSplit = await server.call("POST", "/api/v1/models/cls/versions/1/evaluate", {
      snapshot: s1,
      split: "everything",
    });
    expect(badSplit.status).toBe(400);
    const emptySplit = await server.call("POST", "/api/v1/models/cls/versions/1/evaluate", {
      snapshot: s1,
      split: "train",
    });
    expect(emptySplit.status).toBe(400);
    expect(JSON.stringify(emptySplit.body)).toContain("no train items");
    const labeler = await tokenFor(server, "lara", "labeler");
    const asLabeler = await server.call(
      "POST",
      "/api/v1/models/cls/versions/1/evaluate",
      { snapshot: s1 },
      labeler,
    );
    expect(asLabeler.status).toBe(403);
    // Hand-reported results: administrators only, and only on a snapshot that exists in the model's project.
    const asEngineer = await server.call(
      "POST",
      "/api/v1/models/cls/versions/1/validations",
      { snapshot: s1, metrics: { accuracy: 1 } },
      engineer,
    );
    expect(asEngineer.status).toBe(403);
    const smuggled = await server.call("POST", "/api/v1/models/cls/versions/1/validations", {
      snapshot: s1,
      metrics: { accuracy: 1 },
      provenance: "platform",
    });
    expect(smuggled.status).toBe(400);
    const madeUp = await server.call("POST", "/api/v1/models/cls/versions/1/validations", {
      snapshot: "holdout-v1",
      metrics: { accuracy: 1 },
    });
    expect(madeUp.status).toBe(404);
    expect((await server.call("POST", "/api/v1/projects", { name: "other" })).status).toBe(201);
    const foreign = await server.call("POST", "/api/v1/models/cls/versions/1/validations", {
      snapshot: await reportSnapshot(server, "other"),
      metrics: { accuracy: 1 },
    });
    expect(foreign.status).toBe(400);
    expect(JSON.stringify(foreign.body)).toContain("belongs to another project");
    const after = (
      (await server.call("GET", "/api/v1/models/cls/validations")).body as { validations: unknown[] }
    ).validations.length;
    expect(after).toBe(before);
  });

  it("refuses to evaluate a version on items it was trained on (by item id and by image content)", async () => {
    // A training snapshot (everything in train) and a run that trained on it, as a training job leaves it.
    const trainImages = await Promise.all(Array.from({ length: 4 }, (_, i) => noisePng(32, 32, 500 + i)));
    const train = await labeledSnapshot(server, {
      dataset: "train-set",
      task: "classification",
      classes: CLASSES,
      images: trainImages,
      labels: trainImages.map(() => ({ class: "circle" })),
      split: "train",
    });
    const experiment = await server.call("POST", "/api/v1/experiments", { name: "lineage" });
    const run = await server.call("POST", "/api/v1/runs", {
      experimentId: (experiment.body as { id: string }).id,
      lineage: { datasetSnapshot: train.snapshot },
    });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const runId = (run.body as { id: string }).id;
    const { onnx, json } = fixtureBytes("tiny-classifier");
    for (const [file, bytes] of [
      ["model.onnx", onnx],
      ["model.json", json],
    ] as const) {
      const put = await fetch(`${server.url}/api/v1/runs/${runId}/artifacts/model/${file}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${server.adminToken}` },
        body: bytes,
      });
      expect(put.status).toBeLessThan(300);
    }
    const created = await server.call("POST", "/api/v1/models/cls/versions", { runId, path: "model" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const trained = (created.body as { version: number }).version;

    const sameItems = await server.call("POST", `/api/v1/models/cls/versions/${trained}/evaluate`, {
      snapshot: train.snapshot,
      split: "train",
    });
    expect(sameItems.status).toBe(422);
    expect(JSON.stringify(sameItems.body)).toContain(
      `cls version ${trained} was trained on 4 of the 4 items`,
    );

    // The same pictures imported into another dataset's holdout are still the training pictures.
    const leaky = await labeledSnapshot(server, {
      dataset: "leaky-holdout",
      task: "classification",
      classes: CLASSES,
      images: [trainImages[2], images[0]],
      labels: [{ class: "circle" }, { class: "circle" }],
    });
    const copied = await server.call("POST", `/api/v1/models/cls/versions/${trained}/evaluate`, {
      snapshot: leaky.snapshot,
    });
    expect(copied.status).toBe(422);
    expect(JSON.stringify(copied.body)).toContain("was trained on 1 of the 2 items");

    // Unseen items: measured, and the record says what the check rested on.
    const clean = await server.call("POST", `/api/v1/models/cls/versions/${trained}/evaluate`, {
      snapshot: s1,
    });
    expect(clean.status, JSON.stringify(clean.body)).toBe(201);
    expect((clean.body as Outcome).record.evaluation.trainingData).toContain(
      `disjoint from train+val of snapshot ${train.snapshot}`,
    );
  });

  it("promotes an older version over production only after both are measured on the same snapshot", async () => {
    expect((await server.call("POST", "/api/v1/models", { name: "roll", gate: GATE })).status).toBe(201);
    await addVersion(server, "roll", fixtureBytes("tiny-classifier"));
    await addVersion(server, "roll", fixtureBytes("tiny-classifier"));
    const s2Images = await Promise.all(Array.from({ length: 4 }, (_, i) => noisePng(32, 32, 900 + i)));
    const answers = (await predict(server, await versionId(server, "roll", 1), s2Images)).map(topLabel);
    const { snapshot: s2 } = await labeledSnapshot(server, {
      dataset: "holdout-b",
      task: "classification",
      classes: CLASSES,
      images: s2Images,
      labels: answers.map((label) => ({ class: label })),
    });
    // v1 measured on s2 while nothing is in production; v2 measured on s1 and promoted.
    expect(
      (await server.call("POST", "/api/v1/models/roll/versions/1/evaluate", { snapshot: s2 })).status,
    ).toBe(201);
    expect(
      (await server.call("POST", "/api/v1/models/roll/versions/2/evaluate", { snapshot: s1 })).status,
    ).toBe(201);
    for (const v of [1, 2])
      await server.call("POST", `/api/v1/models/roll/versions/${v}/transition`, {
        stage: "staging",
        reason: "t",
      });
    expect(
      (await server.call("POST", "/api/v1/models/roll/versions/2/promote", { reason: "v2" })).status,
    ).toBe(200);

    const back = await server.call("POST", "/api/v1/models/roll/versions/1/promote", { reason: "rollback" });
    expect(back.status).toBe(422);
    expect(JSON.stringify(back.body)).toContain(
      "production version 2 is newer and has no record on snapshot",
    );

    // Evaluating v1 again measures production on the same items first, then decides v1 against it.
    const again = await server.call("POST", "/api/v1/models/roll/versions/1/evaluate", { snapshot: s2 });
    expect(again.status).toBe(201);
    const outcome = again.body as Outcome;
    expect(outcome.production).toMatchObject({ version: 2, provenance: "platform", snapshot: s2 });
    expect(outcome.record.decision.notes.join()).toContain("vs production version 2");
    const rolled = await server.call("POST", "/api/v1/models/roll/versions/1/promote", {
      reason: "rollback",
    });
    expect(rolled.status, JSON.stringify(rolled.body)).toBe(200);
    expect((rolled.body as { archived: Array<{ version: number }> }).archived.map((a) => a.version)).toEqual([
      2,
    ]);
  });

  it("computes detection mAP@0.5 with the real detector fixture", async () => {
    expect(
      (
        await server.call("POST", "/api/v1/models", {
          name: "det",
          gate: { metric: "map50", direction: "higher", min: 0.1 },
        })
      ).status,
    ).toBe(201);
    await addVersion(server, "det", fixtureBytes("tiny-detector"));
    const det = await Promise.all([noisePng(32, 32, 71), noisePng(32, 32, 72)]);
    const found = (await predict(server, await versionId(server, "det", 1), det)) as DetectionPrediction[];
    const asTruth = (p: DetectionPrediction) =>
      p.boxes.map((b) => ({ x: b.x1, y: b.y1, w: b.x2 - b.x1, h: b.y2 - b.y1, label: b.label }));
    // Image A: the truth is exactly what the detector finds. Image B: the same, plus one tiny box of class X
    // that nothing overlaps (a miss). Per class: AP 1, except X: n/(n+1) (all hits ranked first, one missed).
    const x = found[1].boxes[0]?.label ?? "circle";
    const truthB = [...asTruth(found[1]), { x: 0, y: 0, w: 0.01, h: 0.01, label: x }];
    const { snapshot } = await labeledSnapshot(server, {
      dataset: "boxes",
      task: "detection",
      classes: CLASSES,
      images: det,
      labels: [{ boxes: asTruth(found[0]) }, { boxes: truthB }],
    });
    const measured = await server.call("POST", "/api/v1/models/det/versions/1/evaluate", { snapshot });
    expect(measured.status, JSON.stringify(measured.body)).toBe(201);
    const { record } = measured.body as Outcome;
    const counts = new Map<string, number>();
    for (const p of found) for (const b of p.boxes) counts.set(b.label, (counts.get(b.label) ?? 0) + 1);
    const n = counts.get(x) ?? 0;
    const classes = new Set([...counts.keys(), x]);
    const expected =
      [...classes].map((c) => (c === x ? n / (n + 1) : 1)).reduce((a, b) => a + b, 0) / classes.size;
    expect(record.metrics.map50).toBeCloseTo(expected, 6);
    expect(record.metrics[`ap50/${x}`]).toBeCloseTo(n / (n + 1), 6);
    expect(record).toMatchObject({ provenance: "platform", evaluation: { task: "detection", itemCount: 2 } });
    expect(found[0].boxes.length + found[1].boxes.length).toBeGreaterThan(0);

    // A classifier cannot be measured on box labels.
    const wrongTask = await server.call("POST", "/api/v1/models/cls/versions/1/evaluate", { snapshot });
    expect(wrongTask.status).toBe(400);
    expect(JSON.stringify(wrongTask.body)).toContain("is a classification model but snapshot");
  });

  it("CLI: evaluate prints the decision; validate exits 5 when FAILED", async () => {
    const env = {
      MLOPS_URL: server.url,
      MLOPS_TOKEN: server.adminToken,
      MLOPS_CONFIG_DIR: path.join(server.dataDir, "cli"),
    };
    const evaluated = await runCliProcess(["model", "evaluate", "cls", "1", "--snapshot", s1], env);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toContain("measured by the platform): PASSED");
    expect(evaluated.stdout).toContain("accuracy=0.7000");
    const typed = await runCliProcess(
      ["model", "validate", "cls", "1", "--snapshot", s1, "--metric", "accuracy=0.99"],
      env,
    );
    expect(typed.code).toBe(5);
    expect(typed.stdout).toContain("reported): FAILED");
    expect(typed.stderr).toContain("requires a platform-measured validation");
  });
});
