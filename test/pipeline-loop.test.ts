/**
 * The closed loop end to end at small scale, with real PyTorch training jobs and real onnxruntime serving:
 * v1 trained and promoted, labels from simulated Label Studio webhooks on shifted data, the trigger fires,
 * v2 is fine-tuned from v1, evaluated on the snapshot's holdout only, canaried with live traffic and label
 * agreement, promoted; then a candidate trained on corrupted labels never reaches production.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { itemsOfSplit } from "../src/data/manifest.js";
import { runClosedLoop } from "../src/demo/loop/scenario.js";
import { silentReporter } from "../src/demo/loop/reporter.js";
import { TEST_SCALE } from "../src/demo/loop/scales.js";
import { type LoopSummary, printSummary } from "../src/demo/loop/summary.js";
import { itemSetSha256 } from "../src/pipelines/steps/evaluate-step.js";
import { LINEAGE_TAGS } from "../src/tracking/model.js";
import { systemPrincipal } from "../src/registry/registry-service.js";
import { describe } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";

describe("the retraining loop end to end (real PyTorch, real onnxruntime)", () => {
  let server: TestServer;
  let summary: LoopSummary;
  const admin = systemPrincipal("test");

  beforeAll(async () => {
    server = await startTestServer("sqlite", { MLOPS_BACKGROUND_LOOPS: "true", MLOPS_LEASE_TTL_MS: "2000" });
    summary = await runClosedLoop(
      { platform: server.platform, url: server.url, token: server.adminToken, deadlineMs: 280_000 },
      TEST_SCALE,
      silentReporter(),
    );
    // The run's own account (versions, canary decisions with their reasons), kept by CI for a failure.
    let text = "";
    printSummary(summary, { write: (chunk: string) => (text += chunk) });
    mkdirSync("test-results", { recursive: true });
    writeFileSync("test-results/pipeline-loop-summary.txt", text);
  }, 300_000);
  afterAll(async () => server?.stop());

  it("fine-tunes v2 from v1 on the pipeline's snapshot, recorded as lineage on v2's run", async () => {
    const [first] = summary.pipelines;
    expect(first).toMatchObject({ state: "promoted", baseVersion: 1, candidateVersion: 2 });
    const run = await server.platform.pipelines.store.getRun(first.id);
    const { version: v2 } = await server.platform.registry.getVersion(admin, "default", "shapes", 2);
    const tracked = await server.platform.tracking.lookupRun(v2.runId as string);
    expect(tracked?.tags[LINEAGE_TAGS.baseModelVersion]).toBe("shapes:1");
    expect(tracked?.tags[LINEAGE_TAGS.datasetSnapshot]).toBe(run?.snapshotId);
    // What the training script itself saw: it initialised from shapes:1 (MLOPS_BASE_MODEL).
    expect(tracked?.params.init_from).toBe("shapes:1");
    expect(tracked?.tags["mlops.base_model"]).toBe("shapes:1");
  });

  it("evaluated exactly the snapshot's holdout items, none of which the candidate trained on", async () => {
    const run = await server.platform.pipelines.store.getRun(summary.pipelines[0].id);
    const manifest = await server.platform.data.snapshots.manifestOf(run?.snapshotId as string);
    const holdout = itemsOfSplit(manifest, "holdout").map((item) => item.id);
    expect(run?.evaluation?.itemSetSha256).toBe(itemSetSha256(holdout));
    expect(run?.evaluation?.itemCount).toBe(holdout.length);
    expect(run?.evaluation?.production?.count).toBe(holdout.length);
    // The training job's own record of its items (an artifact of v2's run).
    const { version: v2 } = await server.platform.registry.getVersion(admin, "default", "shapes", 2);
    const file = await server.platform.runArtifacts.find(v2.runId as string, "data/training-items.json");
    const chunks: Buffer[] = [];
    for await (const chunk of await server.platform.artifacts.get(file.sha256))
      chunks.push(Buffer.from(chunk as Uint8Array));
    const trained = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
      train: string[];
      val: string[];
      snapshot: string;
    };
    expect(trained.snapshot).toBe(run?.snapshotId);
    expect(trained.train.length).toBe(manifest.splitCounts.train);
    const seen = new Set([...trained.train, ...trained.val]);
    expect(holdout.filter((id) => seen.has(id))).toEqual([]);
    // v2 beat v1 on that holdout.
    expect(run?.evaluation?.candidate.accuracy).toBeGreaterThan(run?.evaluation?.production?.accuracy ?? 1);
  });

  it("canaried v2 on the deployment with live traffic and label agreement, then promoted it", async () => {
    const actions = summary.canary.filter((c) => c.canaryVersion === 2).map((c) => c.action);
    expect(actions[0]).toBe("start_canary");
    expect(actions).toContain("complete_promotion");
    expect(actions).not.toContain("rollback");
    const history = await server.platform.serving.deployments.history(admin, "shapes");
    const promotion = history.find((e) => e.action === "begin_promotion");
    expect(promotion?.reason).toMatch(/agreement/);
    expect(summary.production.version).toBe(2);
    expect(summary.traffic.failed).toBe(0);
    expect(summary.traffic.byVersion["shapes:2"]).toBeGreaterThan(0);
    expect(summary.labels.byVersion["shapes:2"]).toBeDefined();
    const steps = summary.pipelines[0].steps.map((s) => `${s.step}:${s.status}`);
    expect(steps).toEqual([
      "snapshot:succeeded",
      "train:succeeded",
      "evaluate:succeeded",
      "validate:succeeded",
      "stage:succeeded",
      "canary:succeeded",
      "analysis:succeeded",
    ]);
  });

  it("stops the candidate trained on corrupted labels: it never reaches production", async () => {
    const [, second] = summary.pipelines;
    expect(["rejected", "rolled_back"]).toContain(second.state);
    expect(second.candidateVersion).toBe(3);
    const transitions = await server.platform.registry.history(admin, "default", "shapes", "3");
    expect(transitions.map((t) => t.toStage)).not.toContain("production");
    const versions = await server.platform.registry.listVersions(admin, "default", "shapes");
    expect(versions.find((v) => v.stage === "production")?.version).toBe(2);
    // Exactly one run per crossing.
    const runs = await server.platform.pipelines.store.countRuns(
      (await server.platform.pipelines.store.getRun(second.id))?.policyId as string,
    );
    expect(runs).toBe(2);
  });
});
