/**
 * Retrain trigger and pipeline state machine without ML: fires once per threshold crossing (claimed in the
 * database), respects the cooldown, counts from the last run's snapshot, records every step; on SQLite and
 * PostgreSQL. The training command fails on purpose, so each run ends quickly in `failed` at `train`.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { PipelineRun } from "../src/pipelines/pipeline-run.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { waitFor } from "./support/processes.js";
import { generateImages } from "../src/demo/loop/images.js";
import { PlatformClient } from "../src/demo/loop/platform-client.js";
import { pushLabels } from "./pipeline-helpers.js";

describeEachDatabase("retrain trigger", (kind) => {
  let server: TestServer;
  let client: PlatformClient;
  let items: Array<{ id: string; truth: string }> = [];

  const runs = async () =>
    (await client.call<{ pipelines: PipelineRun[] }>("GET", "/api/v1/pipelines?model=shapes")).pipelines;
  const check = () => server.platform.pipelines.triggers.checkAll();

  beforeAll(async () => {
    server = await startTestServer(kind);
    client = new PlatformClient(server.url, server.adminToken);
    await client.call("POST", "/api/v1/datasets", {
      name: "shapes",
      task: "classification",
      classes: ["circle", "square", "triangle"],
    });
    const images = await generateImages(60, { seed: 3, shift: false, labeled: false });
    const added = await client.importImages("shapes", images);
    items = added.map((item, i) => ({ id: item.id, truth: images[i].truth }));
    await client.call("POST", "/api/v1/models", { name: "shapes" });
  }, 60_000);
  afterAll(async () => server?.stop());

  it("refuses bad policies with 4xx and stores nothing", async () => {
    const bad = [
      { dataset: "shapes", minNewLabels: 0 },
      { dataset: "nope", minNewLabels: 5 },
      { dataset: "shapes", minNewLabels: 5, canaryPlan: { stepWeight: 500 } },
      { dataset: "shapes", minNewLabels: 5, env: { "1BAD": "x" } },
    ];
    for (const body of bad) {
      const reply = await server.call("PUT", "/api/v1/retrain-policies/shapes", body);
      expect(reply.status, JSON.stringify(reply.body)).toBeGreaterThanOrEqual(400);
      expect(reply.status).toBeLessThan(500);
    }
    expect((await server.call("GET", "/api/v1/retrain-policies/shapes")).status).toBe(404);
  });

  it("fires exactly once per threshold crossing, honours the cooldown and records each step", async () => {
    const policy = await client.call<{ minNewLabels: number; triggerSeq: number }>(
      "PUT",
      "/api/v1/retrain-policies/shapes",
      {
        dataset: "shapes",
        minNewLabels: 10,
        cooldownSeconds: 3600,
        // This test is about the threshold and the claim; settling has its own test.
        settleSeconds: 0,
        command: ["python3", "-c", "import sys; print('no training today'); sys.exit(3)"],
        maxRetries: 0,
      },
    );
    expect(policy.triggerSeq).toBe(0);

    await pushLabels(
      client,
      "shapes",
      items.slice(0, 9).map((i) => ({ id: i.id, label: i.truth })),
      "a",
    );
    await check();
    expect(await runs()).toHaveLength(0);
    const shown = await client.call<{ trigger: { newLabels: number; fires: boolean } }>(
      "GET",
      "/api/v1/retrain-policies/shapes",
    );
    expect(shown.trigger).toMatchObject({ newLabels: 9, fires: false });

    await pushLabels(client, "shapes", [{ id: items[9].id, label: items[9].truth }], "b");
    // Many checks at once (as several loops would): one claim wins.
    await Promise.all(Array.from({ length: 8 }, () => check()));
    const fired = await runs();
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      state: "snapshot",
      triggerSeq: 1,
      trigger: { newLabels: 10, basisSnapshot: null },
    });

    // The engine: snapshot -> train (the job is submitted) -> the job fails -> failed.
    const engine = server.platform.pipelines.engine;
    await engine.advance(fired[0].id);
    const training = await server.platform.pipelines.store.getRun(fired[0].id);
    expect(training?.state).toBe("train");
    await engine.advance(fired[0].id); // submits the job
    const jobId = (await server.platform.pipelines.store.getRun(fired[0].id))?.jobId;
    expect(jobId).toBeTruthy();
    await server.platform.pipelines.loop.tick(); // re-attaches to the same job (no second submission)
    expect((await server.platform.pipelines.store.getRun(fired[0].id))?.jobId).toBe(jobId);
    // No scheduler runs in this test server: cancel the run (and its queued job) instead of waiting.
    await client.call("POST", `/api/v1/pipelines/${fired[0].id}/cancel`, { reason: "test" });
    const job = await server.call("GET", `/api/v1/jobs/${jobId}`);
    expect((job.body as { job: { state: string } }).job.state).toBe("cancelled");

    const shownRun = await client.call<{
      pipeline: PipelineRun;
      steps: Array<{ step: string; status: string; reason: string | null }>;
    }>("GET", `/api/v1/pipelines/${fired[0].id}`);
    expect(shownRun.pipeline.state).toBe("cancelled");
    expect(shownRun.steps.map((s) => [s.step, s.status])).toEqual([
      ["snapshot", "succeeded"],
      ["train", "cancelled"],
    ]);
    const audit = await server.call("GET", `/api/v1/audit?subjectId=${fired[0].id}`);
    const actions = ((audit.body as { events: Array<{ action: string }> }).events ?? []).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["pipeline.trigger", "pipeline.transition"]));

    // New labels within the cooldown: no second run, whatever the count.
    await pushLabels(
      client,
      "shapes",
      items.slice(10, 40).map((i) => ({ id: i.id, label: i.truth })),
      "c",
    );
    await check();
    expect(await runs()).toHaveLength(1);
    const cooling = await client.call<{
      trigger: { newLabels: number; reason: string; basisSource: string };
    }>("GET", "/api/v1/retrain-policies/shapes");
    // Counted from the cancelled run's snapshot: only the 30 labels that came after it.
    expect(cooling.trigger).toMatchObject({ newLabels: 30, basisSource: "last-run" });
    expect(cooling.trigger.reason).toMatch(/cooling down/);

    // Paused: nothing fires; resumed with no cooldown: the second crossing fires run #2.
    await client.call("PUT", "/api/v1/retrain-policies/shapes", {
      dataset: "shapes",
      minNewLabels: 10,
      cooldownSeconds: 0,
      settleSeconds: 0,
      command: ["python3", "-c", "import sys; sys.exit(3)"],
      maxRetries: 0,
    });
    await client.call("POST", "/api/v1/retrain-policies/shapes/pause");
    await check();
    expect(await runs()).toHaveLength(1);
    await client.call("POST", "/api/v1/retrain-policies/shapes/resume");
    await Promise.all([check(), check(), check()]);
    const after = await runs();
    expect(after).toHaveLength(2);
    expect(after[0]).toMatchObject({
      triggerSeq: 2,
      trigger: { newLabels: 30, basisSnapshot: fired[0].snapshotId ?? expect.any(String) },
    });
  }, 60_000);

  it("fails a run whose training job fails, with the job's reason, once the scheduler ran it", async () => {
    server.platform.leader.start();
    server.platform.loops.find((l) => l.name === "job-scheduler")?.start();
    const [latest] = await runs();
    const engine = server.platform.pipelines.engine;
    const ended = await waitFor(
      async () => {
        const run = await engine.advance(latest.id);
        return run && ["failed", "cancelled"].includes(run.state) ? run : undefined;
      },
      30_000,
      "the run to fail",
    );
    expect(ended.state).toBe("failed");
    expect(ended.stateReason).toMatch(/training job .* failed/);
  }, 60_000);
});
