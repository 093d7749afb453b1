/**
 * kill -9 the control plane while the pipeline is in its training step, start it again on the same data
 * dir: the pipeline resumes at `train` (re-attaching to the job it submitted, never submitting a second),
 * finishes, and no label and no run is lost or doubled. Real processes, real PyTorch. The restarted server
 * listens on another port (port 0), so the attempt running during the crash loses its API and fails; the
 * job's retry policy runs it again as the same job — the pipeline only ever follows that one job.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateImages } from "../src/demo/loop/images.js";
import { PlatformClient } from "../src/demo/loop/platform-client.js";
import type { PipelineRun, PipelineStep } from "../src/pipelines/pipeline-run.js";
import { type ServerProcess, spawnServer, waitFor } from "./support/processes.js";

const TOKEN = "mlops_restart-test-token-0123456789abcdef";

describe("pipeline resume after SIGKILL", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mlops-pipeline-restart-"));
  const env = {
    MLOPS_DATA_DIR: dataDir,
    MLOPS_ADMIN_TOKEN: TOKEN,
    MLOPS_LEASE_TTL_MS: "1500",
    MLOPS_PYTHON: process.env.MLOPS_PYTHON ?? "/usr/bin/python3",
  };
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("resumes the training step, finishes, loses no label and fires no second run", async () => {
    server = await spawnServer(env);
    let client = new PlatformClient(server.url, TOKEN);
    await client.call("POST", "/api/v1/datasets", {
      name: "shapes",
      task: "classification",
      classes: ["circle", "square", "triangle"],
    });
    const images = await generateImages(300, { seed: 1, shift: false, labeled: true });
    const items = await client.importImages("shapes", images);
    await client.call("POST", "/api/v1/models", { name: "shapes" });
    await client.call("PUT", "/api/v1/models/shapes/gate", {
      metric: "accuracy",
      direction: "higher",
      min: 0.4,
    });
    await client.call("PUT", "/api/v1/retrain-policies/shapes", {
      dataset: "shapes",
      minNewLabels: 200,
      cooldownSeconds: 3600,
      settleSeconds: 0,
      command: ["python", "train.py", "--epochs", "12", "--seed", "2"],
    });

    const runs = async () =>
      (await client.call<{ pipelines: PipelineRun[] }>("GET", "/api/v1/pipelines?model=shapes")).pipelines;
    const training = await waitFor(
      async () => {
        const [run] = await runs();
        if (run?.state !== "train" || !run.jobId) return undefined;
        const { job } = await client.call<{ job: { state: string } }>("GET", `/api/v1/jobs/${run.jobId}`);
        return job.state === "running" ? run : undefined;
      },
      60_000,
      "the training job to run",
    );
    // Labels that arrive while the job trains are acknowledged before the crash.
    await client.call("POST", "/api/v1/datasets/shapes/labels", {
      labels: items.slice(0, 20).map((item, i) => ({
        item: item.id,
        idempotencyKey: `late-${i}`,
        label: { class: images[i].truth === "circle" ? "square" : "circle" },
      })),
    });
    const before = await client.call<{ stats: { revisions: number } }>("GET", "/api/v1/datasets/shapes");
    await server.kill("SIGKILL");
    server = await spawnServer(env);
    client = new PlatformClient(server.url, TOKEN);

    const ended = await waitFor(
      async () => {
        const run = (await runs()).find((r) => r.id === training.id);
        return run && ["staged", "failed", "rejected", "cancelled"].includes(run.state) ? run : undefined;
      },
      120_000,
      "the pipeline to finish after the restart",
    );
    expect(ended.state, ended.stateReason).toBe("staged");
    expect(ended.jobId).toBe(training.jobId);

    const { steps } = await client.call<{ steps: Array<PipelineStep & { durationMs: number }> }>(
      "GET",
      `/api/v1/pipelines/${ended.id}`,
    );
    expect(steps.map((s) => s.step)).toEqual(["snapshot", "train", "evaluate", "validate", "stage"]);
    expect(steps.find((s) => s.step === "train")?.resumes).toBeGreaterThanOrEqual(1);

    // One run for the one crossing, one training job for the run.
    expect(await runs()).toHaveLength(1);
    const { jobs } = await client.call<{ jobs: Array<{ id: string; env: Record<string, string> }> }>(
      "GET",
      "/api/v1/jobs?limit=500",
    );
    expect(jobs.filter((job) => job.env.MLOPS_PIPELINE_RUN === ended.id).map((job) => job.id)).toEqual([
      training.jobId,
    ]);

    // Every acknowledged label survived; pushing them again stores nothing new.
    const after = await client.call<{ stats: { revisions: number } }>("GET", "/api/v1/datasets/shapes");
    expect(after.stats.revisions).toBe(before.stats.revisions);
    const logs = await fetch(`${server.url}/api/v1/pipelines/${ended.id}/logs`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(logs.status).toBe(200);
    expect(await logs.text()).toMatch(/epoch \d+\/12/);
  }, 200_000);
});
