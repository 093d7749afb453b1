/**
 * The retrain trigger waits for labels to settle: it never fires while a bulk import is still adding batches,
 * nor until the labels have been quiet for the policy's settleSeconds; then it fires once, counting every label
 * of the import. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateImages } from "../src/demo/loop/images.js";
import { PlatformClient } from "../src/demo/loop/platform-client.js";
import type { PipelineRun } from "../src/pipelines/pipeline-run.js";
import { pushLabels } from "./pipeline-helpers.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

describeEachDatabase("retrain trigger settling", (kind) => {
  let server: TestServer;
  let client: PlatformClient;
  let items: Array<{ id: string; truth: string }> = [];

  const runs = async () =>
    (await client.call<{ pipelines: PipelineRun[] }>("GET", "/api/v1/pipelines?model=shapes")).pipelines;
  const check = () => server.platform.pipelines.triggers.checkAll();
  const reason = async () =>
    (
      await client.call<{ trigger: { reason: string; fires: boolean } }>(
        "GET",
        "/api/v1/retrain-policies/shapes",
      )
    ).trigger;

  beforeAll(async () => {
    server = await startTestServer(kind);
    client = new PlatformClient(server.url, server.adminToken);
    for (const name of ["shapes", "other"]) {
      await client.call("POST", "/api/v1/datasets", {
        name,
        task: "classification",
        classes: ["circle", "square", "triangle"],
      });
    }
    const images = await generateImages(30, { seed: 4, shift: false, labeled: false });
    const added = await client.importImages("shapes", images);
    items = added.map((item, i) => ({ id: item.id, truth: images[i].truth }));
    await client.call("POST", "/api/v1/models", { name: "shapes" });
    await client.call("PUT", "/api/v1/retrain-policies/shapes", {
      dataset: "shapes",
      minNewLabels: 10,
      cooldownSeconds: 0,
      settleSeconds: 1,
      command: ["python3", "-c", "import sys; sys.exit(3)"],
      maxRetries: 0,
    });
  }, 60_000);
  afterAll(async () => server?.stop());

  it("does not fire on a partial import; fires once after it settles, with all its labels", async () => {
    const session = await client.call<{ id: string; finishedAt: number | null }>(
      "POST",
      "/api/v1/datasets/shapes/imports",
      { source: "coco annotations.json" },
    );
    expect(session.finishedAt).toBeNull();
    const batch = async (from: number, to: number) => {
      const slice = items.slice(from, to).map((i) => ({ id: i.id, label: i.truth }));
      await pushLabels(client, "shapes", slice, `batch-${from}`);
      await client.call("POST", `/api/v1/datasets/shapes/imports/${session.id}/progress`, {
        items: slice.length,
      });
    };

    await batch(0, 6);
    await check();
    await batch(6, 14); // 14 >= 10: the threshold is crossed mid-import
    await check();
    expect(await runs()).toHaveLength(0);
    expect((await reason()).reason).toMatch(
      /import [0-9a-f]{8} \(coco annotations.json\) is still adding items/,
    );

    await batch(14, 20);
    const finished = await client.call<{ finishedAt: number | null; items: number }>(
      "POST",
      `/api/v1/datasets/shapes/imports/${session.id}/finish`,
      {},
    );
    expect(finished).toMatchObject({ items: 20 });
    expect(finished.finishedAt).not.toBeNull();
    // Finished, but the last labels are younger than settleSeconds.
    await check();
    expect(await runs()).toHaveLength(0);
    expect((await reason()).reason).toMatch(/labels still arriving/);

    await new Promise((r) => setTimeout(r, 1_100));
    await Promise.all([check(), check()]);
    const fired = await runs();
    expect(fired).toHaveLength(1);
    expect(fired[0].trigger).toMatchObject({ newLabels: 20, minNewLabels: 10 });
  });

  it("keeps sessions to their dataset and refuses finished ones", async () => {
    const session = await client.call<{ id: string }>("POST", "/api/v1/datasets/shapes/imports", {});
    const elsewhere = await server.call("POST", `/api/v1/datasets/other/imports/${session.id}/progress`, {
      items: 1,
    });
    expect(elsewhere.status).toBe(404);
    await client.call("POST", `/api/v1/datasets/shapes/imports/${session.id}/finish`, {});
    const late = await server.call("POST", `/api/v1/datasets/shapes/imports/${session.id}/progress`, {
      items: 1,
    });
    expect(late.status).toBe(409);
    const bad = await server.call("POST", "/api/v1/datasets/shapes/imports", { source: "x".repeat(501) });
    expect(bad.status).toBe(400);
  });
});
