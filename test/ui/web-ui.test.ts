import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tokenFor } from "../registry-helpers.js";
import { addVersion, fixtureBytes, noisePng, postJson, stage } from "../serving-fixtures.js";
import { labeledSnapshot, reportSnapshot } from "../snapshot-helpers.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { ensureWebBuild, launchChromium, SCREENSHOTS } from "./web-build.js";

/**
 * The web UI end to end: a real server with data made through the API, driven by Chromium. Screenshots of
 * every page go to test-results/ui/ (kept by CI).
 */

const SHORT_RUN = 50;
const LONG_RUN = 3000;
/** The chart's drawing area (web/src/charts/LineChart.tsx): x from 56 to 628, y from 230 (low) to 10 (high). */
const PLOT = { left: 56, right: 628, bottom: 230, top: 10 };

function pathPoints(d: string): Array<{ x: number; y: number }> {
  return [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

describe("web UI end to end (Chromium)", () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let experimentId: string;
  let baselineId: string;
  let longId: string;

  async function logMetrics(runId: string, key: string, count: number, value: (step: number) => number) {
    for (let from = 0; from < count; from += 1000) {
      const metrics = Array.from({ length: Math.min(1000, count - from) }, (_, i) => ({
        key,
        value: value(from + i),
        step: from + i,
        timestamp: 1_700_000_000_000 + (from + i) * 1000,
      }));
      const logged = await server.call("POST", `/api/v1/runs/${runId}/log`, { metrics });
      expect(logged.status, JSON.stringify(logged.body)).toBe(204);
    }
  }

  async function signIn(target: Page, token: string) {
    await target.goto(`${server.url}/`);
    await target.getByLabel("API token").fill(token);
    await target.getByRole("button", { name: "Sign in" }).click();
    await target.getByRole("navigation", { name: "Main" }).waitFor();
  }

  async function shot(name: string) {
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    ensureWebBuild();
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startTestServer("sqlite", {
      MLOPS_BACKGROUND_LOOPS: "true",
      MLOPS_LEASE_TTL_MS: "3000",
      MLOPS_GPUS: "a100:2",
    });
    const snapshot = await reportSnapshot(server);
    const experiment = await server.call("POST", "/api/v1/experiments", { name: "shapes-classifier" });
    experimentId = (experiment.body as { id: string }).id;
    const baseline = await server.call("POST", "/api/v1/runs", {
      experimentId,
      name: "baseline",
      lineage: { datasetSnapshot: snapshot, codeRef: "a".repeat(64) },
    });
    baselineId = (baseline.body as { id: string }).id;
    await server.call("POST", `/api/v1/runs/${baselineId}/log`, {
      params: [
        { key: "lr", value: "0.01" },
        { key: "epochs", value: "50" },
      ],
    });
    await logMetrics(baselineId, "loss", SHORT_RUN, (s) => 2 / (1 + s));
    const long = await server.call("POST", "/api/v1/runs", { experimentId, name: "long" });
    longId = (long.body as { id: string }).id;
    await server.call("POST", `/api/v1/runs/${longId}/log`, { params: [{ key: "lr", value: "0.1" }] });
    await logMetrics(longId, "loss", LONG_RUN, (s) => 3 / (1 + s / 10) + (s % 7) / 100);
    const put = await fetch(`${server.url}/api/v1/runs/${baselineId}/artifacts/model/notes.txt`, {
      method: "PUT",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "text/plain" },
      body: "trained on shapes\n",
    });
    expect(put.status).toBe(201);

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("dialog", (dialog) => void dialog.accept());
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("signs in with a token kept out of the URL, and refuses a wrong one", async () => {
    await page.goto(`${server.url}/`);
    await page.getByLabel("API token").fill("mlops_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("invalid or revoked API token");
    await shot("sign-in");
    await signIn(page, server.adminToken);
    expect(page.url()).not.toContain(server.adminToken);
    await expect(page.getByTestId("who").textContent()).resolves.toBe("admin · admin");
  });

  it("lists runs with a filter and column picker, and draws the logged points", async () => {
    await page.goto(`${server.url}/runs?experiment=${experimentId}`);
    const table = page.getByRole("table", { name: "Runs" });
    await table.getByRole("link", { name: "baseline" }).waitFor();
    expect(await table.getByRole("row").count()).toBe(3);
    await page.getByLabel("Filter (MLflow syntax)").fill("params.lr = '0.1'");
    await page.getByRole("button", { name: "Search" }).click();
    await table.getByRole("link", { name: "baseline" }).waitFor({ state: "detached" });
    expect(await table.getByRole("row").count()).toBe(2);
    await page.getByLabel("Filter (MLflow syntax)").fill("");
    await page.getByRole("button", { name: "Search" }).click();
    await table.getByRole("link", { name: "baseline" }).waitFor();
    await page.getByRole("button", { name: "Columns" }).click();
    await page.getByRole("checkbox", { name: "params.epochs" }).uncheck();
    expect(await table.getByRole("columnheader", { name: "params.epochs" }).count()).toBe(0);
    expect(await table.getByRole("columnheader", { name: "params.lr" }).count()).toBe(1);
    await shot("runs");

    await table.getByRole("link", { name: "baseline" }).click();
    const series = page.locator('[data-metric="loss"] path[data-series="baseline"]');
    await series.waitFor();
    expect(await series.getAttribute("data-points")).toBe(String(SHORT_RUN));
    const points = pathPoints((await series.getAttribute("d")) ?? "");
    expect(points).toHaveLength(SHORT_RUN);
    // Every drawn point sits where its logged value and step put it (values 2/(1+step): max 2, min 2/50).
    const [low, high] = [2 / SHORT_RUN, 2];
    points.forEach((p, step) => {
      const value = 2 / (1 + step);
      const x = PLOT.left + (step / (SHORT_RUN - 1)) * (PLOT.right - PLOT.left);
      const y = PLOT.bottom - ((value - low) / (high - low)) * (PLOT.bottom - PLOT.top);
      expect(Math.abs(p.x - x), `x of step ${step}`).toBeLessThan(0.06);
      expect(Math.abs(p.y - y), `y of step ${step}`).toBeLessThan(0.06);
    });
    const lineage = await page.locator(".lineage").textContent();
    expect(lineage).toContain("a".repeat(16));
    await shot("run-detail");
  });

  it("overlays runs, downsampling the 3000-point series on the server, with log scale and smoothing", async () => {
    await page.goto(`${server.url}/runs?experiment=${experimentId}`);
    await page.getByRole("checkbox", { name: "Select baseline" }).check();
    await page.getByRole("checkbox", { name: "Select long" }).check();
    await page.getByRole("button", { name: /Compare 2 runs/ }).click();
    const long = page.locator('[data-metric="loss"] path[data-series="long"]');
    await long.waitFor();
    // maxPoints=1000 over 3000 steps: buckets of 3 steps.
    expect(await long.getAttribute("data-points")).toBe("1000");
    expect(pathPoints((await long.getAttribute("d")) ?? "")).toHaveLength(1000);
    expect(
      await page.locator('[data-metric="loss"] path[data-series="baseline"]').getAttribute("data-points"),
    ).toBe(String(SHORT_RUN));
    const linear = await long.getAttribute("d");
    await page.getByLabel("Log scale").check();
    await expect.poll(() => long.getAttribute("d")).not.toBe(linear);
    await page.getByLabel("X axis").selectOption("time");
    await page.getByLabel("Smoothing").fill("0.9");
    await expect.poll(() => page.locator("output").textContent()).toBe("0.90");
    expect(await long.getAttribute("data-points")).toBe("1000");
    await shot("runs-compare");

    await page.goto(`${server.url}/runs/${baselineId}`);
    await page.getByRole("button", { name: "model/" }).click();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: /model\/notes\.txt/ }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("notes.txt");
    expect(readFileSync((await download.path()) ?? "", "utf8")).toBe("trained on shapes\n");
  });

  it("promotes a version: the gate refuses without validation, allows after", async () => {
    expect(await addVersion(server, "shapes", fixtureBytes("tiny-classifier"))).toBe(1);
    expect(await addVersion(server, "shapes", fixtureBytes("tiny-classifier"))).toBe(2);
    const staged = await server.call("POST", "/api/v1/models/shapes/versions/1/transition", {
      stage: "staging",
      reason: "candidate",
    });
    expect(staged.status).toBe(200);
    await page.goto(`${server.url}/models/shapes`);
    const row = page.locator('tr[data-version="1"]');
    await row.getByRole("button", { name: "Promote v1…" }).click();
    await expect(row.getByRole("status").textContent()).resolves.toMatch(/Gate: refuses/);
    await row.getByLabel("Reason").fill("ship it");
    await row.getByRole("button", { name: "Confirm promotion" }).click();
    await expect(row.getByRole("alert").textContent()).resolves.toContain("it has no validation record");
    expect((await server.call("GET", "/api/v1/models/shapes/versions/1")).body).toMatchObject({
      stage: "staging",
    });

    const recorded = await server.call("POST", "/api/v1/models/shapes/versions/1/validations", {
      snapshot: await reportSnapshot(server),
      metrics: { accuracy: 0.93 },
    });
    expect(recorded.status).toBe(201);
    await row.getByRole("button", { name: "Cancel" }).click();
    await row.getByRole("button", { name: "Promote v1…" }).click();
    await expect(row.getByRole("status").textContent()).resolves.toMatch(/Gate: passes/);
    await row.getByLabel("Reason").fill("beats the bar");
    await row.getByRole("button", { name: "Confirm promotion" }).click();
    await row.getByText("in production").waitFor();
    await page
      .getByRole("list", { name: "Transition history" })
      .getByText(/v1: staging → production/)
      .waitFor();
    expect(await page.getByRole("table", { name: "Validation records" }).textContent()).toContain("reported");
    await shot("model");
    await page.goto(`${server.url}/models`);
    await page.getByRole("link", { name: "shapes" }).waitFor();
    await shot("models");
  });

  it("shows a canary's share and live per-version requests, then promotes it", async () => {
    const created = await server.call("POST", "/api/v1/deployments", { name: "shapes", model: "shapes" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await stage(server, "shapes", 2, 0.95);
    const canary = await server.call("POST", "/api/v1/deployments/shapes/canary", {
      version: 2,
      percent: 20,
      plan: { auto: false },
    });
    expect(canary.status, JSON.stringify(canary.body)).toBe(200);

    await page.goto(`${server.url}/deployments/shapes`);
    await page.locator('[data-canary-share="20"]').waitFor();
    await page.getByText("canary v2 20%").waitFor();
    const image = (await noisePng(24, 20, 1)).toString("base64");
    for (let i = 0; i < 12; i++) {
      const answer = await postJson(server, "/api/v1/deployments/shapes/predict", { image });
      expect(answer.status).toBe(200);
    }
    // The page refreshes itself: the per-version request counts reach the 12 sent.
    const requests = page.locator('[data-field="requests"]');
    await expect
      .poll(async () => (await requests.allTextContents()).reduce((n, t) => n + Number(t), 0), {
        timeout: 15_000,
      })
      .toBe(12);
    await shot("deployment");

    await page.getByRole("button", { name: "Promote canary" }).click();
    await page.locator('[data-canary-share="0"]').waitFor({ timeout: 20_000 });
    await page.getByText("primary v2 100%").waitFor();
    await page.goto(`${server.url}/deployments`);
    await page.getByRole("link", { name: "shapes" }).waitFor();
    await shot("deployments");
  });

  it("follows a job's logs live over SSE, all ranks or one, and shows its state history", async () => {
    const submitted = await server.call("POST", "/api/v1/jobs", {
      name: "count",
      procsPerNode: 2,
      command: [
        "/usr/bin/python3",
        "-u",
        "-c",
        "import os, time\nr = os.environ['RANK']\nfor i in range(8):\n    print(f'r{r} line {i}', flush=True)\n    time.sleep(0.6)",
      ],
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const jobId = (submitted.body as { id: string }).id;
    await page.goto(`${server.url}/jobs/${jobId}`);
    const logs = page.getByTestId("logs");
    expect(await page.getByLabel("Rank").inputValue()).toBe("all");
    await expect.poll(() => logs.textContent(), { timeout: 30_000 }).toContain("line 0");
    // Seen before the job wrote its last line: the text arrives while the job runs.
    expect(await logs.textContent()).not.toContain("line 7");
    await expect.poll(() => logs.textContent(), { timeout: 30_000 }).toContain("[rank 1] r1 line 7");
    expect(await logs.textContent()).toContain("[rank 0] r0 line 7");
    await expect
      .poll(() => page.getByTestId("log-status").textContent(), { timeout: 15_000 })
      .toMatch(/^ended · succeeded/);
    await page
      .getByRole("list", { name: "State history" })
      .getByText(/running → succeeded/)
      .waitFor();
    await shot("job");

    // One rank: only its own lines.
    await page.getByLabel("Rank").selectOption("1");
    await expect.poll(() => logs.textContent(), { timeout: 15_000 }).toContain("r1 line 7");
    const rankOne = (await logs.textContent()) ?? "";
    expect(rankOne).not.toContain("r0 line");
    expect(rankOne.match(/r1 line \d/g)).toHaveLength(8);
  });

  it("shows which job holds which GPU and why a job waits, and cancels a job", async () => {
    const sleeper = ["/usr/bin/python3", "-c", "import time; time.sleep(60)"];
    const hold = await server.call("POST", "/api/v1/jobs", {
      name: "hold",
      command: sleeper,
      resources: { gpus: 2 },
    });
    expect(hold.status, JSON.stringify(hold.body)).toBe(201);
    const holdId = (hold.body as { id: string }).id;
    await expect
      .poll(
        async () =>
          ((await server.call("GET", `/api/v1/jobs/${holdId}`)).body as { job: { state: string } }).job.state,
        {
          timeout: 30_000,
        },
      )
      .toBe("running");
    const wait = await server.call("POST", "/api/v1/jobs", {
      name: "wait",
      command: sleeper,
      resources: { gpus: 2 },
    });
    const waitId = (wait.body as { id: string }).id;

    await page.goto(`${server.url}/jobs`);
    const gpus = page.getByRole("list", { name: "GPU devices" });
    await gpus.getByRole("link", { name: "hold rank 0" }).first().waitFor();
    expect(await gpus.getByRole("listitem").count()).toBe(2);
    expect(await gpus.getByRole("link", { name: "hold rank 0" }).count()).toBe(2);
    const queue = page.getByRole("table", { name: "Queue" });
    const waiting = queue.getByRole("row").filter({ has: page.getByRole("link", { name: "wait" }) });
    await waiting.waitFor();
    const reason = (await waiting.getByRole("cell").nth(2).textContent()) ?? "";
    const apiReason = (
      (await server.call("GET", `/api/v1/jobs/${waitId}`)).body as { job: { stateReason: string } }
    ).job.stateReason;
    expect(reason).toBe(apiReason);
    expect(reason).toMatch(/GPU/i);
    await shot("jobs");

    for (const id of [waitId, holdId]) {
      await page.goto(`${server.url}/jobs/${id}`);
      await page.getByRole("button", { name: "Cancel job" }).click();
      await page
        .getByRole("list", { name: "State history" })
        .getByText(/→ cancelled/)
        .waitFor({ timeout: 30_000 });
    }
  });

  it("shows datasets with splits, snapshots, and the workspaces page (or that it is not available)", async () => {
    const images = await Promise.all([1, 2, 3].map((seed) => noisePng(16, 16, seed)));
    const first = await labeledSnapshot(server, {
      dataset: "shapes-data",
      task: "classification",
      classes: ["circle", "square"],
      images: images.slice(0, 2),
      labels: [{ class: "circle" }, { class: "square" }],
      split: "train",
    });
    expect(first.items).toHaveLength(2);
    const policy = await server.call("PUT", "/api/v1/retrain-policies/shapes", {
      dataset: "shapes-data",
      minNewLabels: 5,
      cooldownSeconds: 3600,
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    const blob = await fetch(`${server.url}/api/v1/datasets/shapes-data/blobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/octet-stream" },
      body: images[2],
    });
    const sha256 = ((await blob.json()) as { sha256: string }).sha256;
    const added = await server.call("POST", "/api/v1/datasets/shapes-data/items", {
      items: [{ sha256, sourceName: "img/2.png", label: { class: "circle" } }],
    });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect((await server.call("POST", "/api/v1/datasets/shapes-data/snapshots")).status).toBe(201);

    await page.goto(`${server.url}/data`);
    await page.getByRole("button", { name: "shapes-data" }).click();
    await page.getByRole("heading", { name: "Dataset shapes-data" }).waitFor();
    const counts = page.getByRole("table", { name: "Label counts and splits" });
    await expect
      .poll(() => counts.getByRole("cell").allTextContents())
      .toEqual(["3", "3", "3", "0", "0", "3"]);
    await page.getByRole("button", { name: "vs previous" }).click();
    await expect
      .poll(() => page.getByRole("status").filter({ hasText: "added" }).textContent())
      .toMatch(/1 added, 0 removed, 0 relabeled/);
    const policies = page.getByRole("table", { name: "Retrain policies" });
    await policies.waitFor();
    expect(await policies.textContent()).toMatch(/shapes-data/);
    expect(await policies.textContent()).toMatch(/\d+ \/ 5/);
    await shot("data");

    await page.goto(`${server.url}/workspaces`);
    await page
      .getByTestId("workspaces-unavailable")
      .or(page.getByRole("form", { name: "Create a workspace" }))
      .or(page.getByText(/No workspaces in/))
      .first()
      .waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);
    await shot("workspaces");
  });

  it("works for a viewer: data visible, actions disabled", async () => {
    const viewerToken = await tokenFor(server, "vic", "viewer");
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const viewer = await context.newPage();
    try {
      await signIn(viewer, viewerToken);
      await expect(viewer.getByTestId("who").textContent()).resolves.toBe("vic · viewer");
      await viewer.goto(`${server.url}/models/shapes`);
      const promote = viewer.getByRole("button", { name: /^Promote v/ });
      await promote.first().waitFor();
      for (const button of await promote.all()) expect(await button.isDisabled()).toBe(true);
      expect(await viewer.getByRole("button", { name: "Move" }).count()).toBe(0);
      await viewer.goto(`${server.url}/runs/${baselineId}`);
      await viewer.locator('[data-metric="loss"] path[data-series="baseline"]').waitFor();
      await viewer.screenshot({ path: path.join(SCREENSHOTS, "viewer-run.png"), fullPage: true });
      await viewer.goto(`${server.url}/workspaces`);
      await viewer
        .getByText("Your role can see workspaces but not create them.")
        .or(viewer.getByTestId("workspaces-unavailable"))
        .waitFor();
      expect(await viewer.getByRole("form", { name: "Create a workspace" }).count()).toBe(0);

      // Revoked mid-session: the next request returns the viewer to the sign-in form, saying why.
      const tokens = (await server.call("GET", "/api/v1/tokens?user=vic")).body as {
        tokens: Array<{ id: string }>;
      };
      expect(tokens.tokens).toHaveLength(1);
      expect((await server.call("DELETE", `/api/v1/tokens/${tokens.tokens[0].id}`)).status).toBe(200);
      await viewer.getByRole("link", { name: "Models" }).click();
      await expect(viewer.getByRole("alert").textContent()).resolves.toContain(
        "Signed out: invalid or revoked API token",
      );
      await viewer.getByLabel("API token").waitFor();
    } finally {
      await context.close();
    }
  });
});
