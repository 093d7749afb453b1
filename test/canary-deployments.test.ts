import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  addVersion,
  constantClassifier,
  fixtureBytes,
  makeProduction,
  noisePng,
  postJson,
  stage,
  stageOf,
} from "./serving-fixtures.js";
import { reportSnapshot } from "./snapshot-helpers.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

interface Deployment {
  state: string;
  primaryVersion: number;
  canaryVersion: number | null;
  canaryWeight: number;
  revision: number;
  failures: number;
}
interface HistoryEntry {
  action: string;
  actor: string;
  reason: string;
  toState: string;
  canaryVersion: number | null;
  canaryWeight: number;
  details: {
    analysis?: { verdict: string; errorRate: number; agreement: number | null; canary: { requests: number } };
    outcome?: string;
  };
}
interface PredictAnswer {
  modelVersion: number;
  canary: boolean;
  predictions: Array<{ predictionId: string; labels: Array<{ label: string }> }>;
}

const FAST_PLAN = {
  intervalSeconds: 0.3,
  stepWeight: 25,
  minRequests: 10,
  maxErrorRate: 0.05,
  // Two busy cores and sub-millisecond models: latency is not what these scenarios judge.
  maxP95LatencyRatio: 20,
  failureLimit: 2,
  auto: true,
};

describeEachDatabase("canary deployments", (kind) => {
  let server: TestServer;
  let dir: string;
  let images: string[];
  const statuses: number[] = [];

  const deployment = async (name = "shapes") =>
    (await server.call("GET", `/api/v1/deployments/${name}`)).body as Deployment;
  const history = async (name = "shapes") =>
    ((await server.call("GET", `/api/v1/deployments/${name}/history`)).body as { history: HistoryEntry[] })
      .history;

  /** Sends predictions until `done` holds (checked every few requests); every answer's status is kept. */
  async function trafficUntil(
    done: (d: Deployment) => boolean,
    onAnswer: (answer: PredictAnswer, imageIndex: number) => Promise<void> = async () => {},
    withKeys = false,
  ): Promise<Deployment> {
    const deadline = Date.now() + 25_000;
    for (let i = 0; Date.now() < deadline; i++) {
      const index = i % images.length;
      const headers: Record<string, string> = withKeys ? { "x-routing-key": `caller-${i}` } : {};
      const r = await postJson(
        server,
        "/api/v1/deployments/shapes/predict",
        { image: images[index] },
        headers,
      );
      statuses.push(r.status);
      if (r.status === 200) await onAnswer(r.body as PredictAnswer, index);
      if (i % 5 === 0) {
        const d = await deployment();
        if (done(d)) return d;
      }
    }
    throw new Error(`the canary was not decided in time: ${JSON.stringify(await deployment())}`);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "canary-"));
    server = await startTestServer(kind, { MLOPS_BACKGROUND_LOOPS: "true", MLOPS_LEASE_TTL_MS: "3000" });
    images = await Promise.all(Array.from({ length: 12 }, (_, i) => noisePng(24 + i, 20 + i, i + 1))).then(
      (list) => list.map((b) => b.toString("base64")),
    );
    const v1 = await addVersion(server, "shapes", fixtureBytes("tiny-classifier"));
    await makeProduction(server, "shapes", v1);
    const created = await server.call("POST", "/api/v1/deployments", { name: "shapes", model: "shapes" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a canary without a passing validation in production, changing nothing", async () => {
    const before = await deployment();
    const v2 = await addVersion(server, "shapes", fixtureBytes("tiny-classifier"));
    const unstaged = await server.call("POST", "/api/v1/deployments/shapes/canary", {
      version: v2,
      percent: 10,
    });
    expect(unstaged.status).toBe(422);
    expect((unstaged.body as { error: { message: string } }).error.message).toMatch(/staging/);

    await server.call("POST", `/api/v1/models/shapes/versions/${v2}/transition`, {
      stage: "staging",
      reason: "t",
    });
    const unvalidated = await server.call("POST", "/api/v1/deployments/shapes/canary", { version: v2 });
    expect(unvalidated.status).toBe(422);
    expect((unvalidated.body as { error: { message: string } }).error.message).toMatch(/validation/);

    const lowRecord = await server.call("POST", `/api/v1/models/shapes/versions/${v2}/validations`, {
      snapshot: await reportSnapshot(server),
      metrics: { accuracy: 0.2 },
    });
    expect(lowRecord.status).toBe(201);
    const failing = await server.call("POST", "/api/v1/deployments/shapes/canary", { version: v2 });
    expect(failing.status).toBe(422);

    const primaryNotProduction = await server.call("POST", "/api/v1/deployments", {
      name: "other",
      model: "shapes",
      version: v2,
    });
    expect(primaryNotProduction.status).toBe(422);
    expect((await server.call("GET", "/api/v1/deployments/other")).status).toBe(404);

    expect(await deployment()).toEqual(before);
    expect((await history()).map((h) => h.action)).toEqual(["create"]);
    expect((await server.call("POST", "/api/v1/deployments/shapes/rollback", {})).status).toBe(409);
  });

  it("rolls back a canary that throws, with no failed caller requests", async () => {
    const json = fixtureBytes("tiny-classifier").json;
    const broken = await addVersion(server, "shapes", {
      onnx: Buffer.from("this is not an ONNX graph"),
      json,
    });
    await stage(server, "shapes", broken);
    const started = await server.call("POST", "/api/v1/deployments/shapes/canary", {
      version: broken,
      percent: 50,
      plan: { ...FAST_PLAN, maxWeight: 75 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body).toMatchObject({ state: "canarying", canaryVersion: broken, canaryWeight: 50 });

    const final = await trafficUntil((d) => d.state !== "canarying");
    expect(final).toMatchObject({
      state: "rolled_back",
      primaryVersion: 1,
      canaryVersion: null,
      canaryWeight: 0,
    });
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.every((s) => s === 200)).toBe(true);

    const entries = await history();
    const rollback = entries[entries.length - 1];
    expect(rollback).toMatchObject({
      action: "rollback",
      toState: "rolled_back",
      canaryVersion: broken,
      actor: "system/canary-analysis",
    });
    expect(rollback.details.outcome).toBe("failed");
    expect(rollback.details.analysis?.verdict).toBe("fail");
    expect(rollback.details.analysis?.errorRate).toBe(1);
    expect(rollback.details.analysis?.canary.requests).toBeGreaterThanOrEqual(10);
    expect(entries.some((e) => e.action === "record_analysis")).toBe(true);
    expect(await stageOf(server, "shapes", broken)).toBe("staging");

    const audit = await server.call("GET", "/api/v1/audit?subjectType=deployment&action=deployment.rollback");
    expect((audit.body as { events: Array<{ actor: string }> }).events[0]).toMatchObject({
      actor: "system/canary-analysis",
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`mlops_canary_fallbacks_total\\{deployment="shapes",version="shapes:${broken}"\\} [1-9]`),
    );
  });

  it("rolls back a canary that answers garbage, judged by labelers' agreement", async () => {
    // The labeler's truth here is what the primary answers; the garbage canary always says the class the
    // primary says least often.
    const truth: string[] = [];
    for (const image of images) {
      const r = await postJson(server, "/api/v1/deployments/shapes/predict?version=1", { image });
      truth.push((r.body as PredictAnswer).predictions[0].labels[0].label);
    }
    const classes = ["circle", "square", "triangle"];
    const rarest = classes
      .map((c, i) => ({ i, n: truth.filter((t) => t === c).length }))
      .sort((a, b) => a.n - b.n)[0].i;
    const constant = await addVersion(server, "shapes", {
      onnx: constantClassifier(dir, rarest),
      json: fixtureBytes("tiny-classifier").json,
    });
    await stage(server, "shapes", constant);

    const dataset = await server.call("POST", "/api/v1/datasets", {
      name: "shapes-labels",
      task: "classification",
      classes,
    });
    expect(dataset.status, JSON.stringify(dataset.body)).toBe(201);
    const added = await server.call("POST", "/api/v1/datasets/shapes-labels/items", {
      items: images.map((_, i) => ({ key: `img-${i}`, url: `https://images.example/${i}.png` })),
    });
    expect(added.status, JSON.stringify(added.body)).toBe(200);

    const started = await server.call("POST", "/api/v1/deployments/shapes/canary", {
      version: constant,
      percent: 50,
      plan: { ...FAST_PLAN, maxWeight: 75, minAgreement: 0.8, minLabels: 5 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    let labeled = 0;
    const final = await trafficUntil(
      (d) => d.state !== "canarying",
      async (answer, index) => {
        if (!answer.canary) return;
        const [p] = answer.predictions;
        const pushed = await server.call("POST", "/api/v1/datasets/shapes-labels/labels", {
          labels: [
            {
              item: `img-${index}`,
              idempotencyKey: p.predictionId,
              label: { class: truth[index] },
              prediction: {
                id: p.predictionId,
                modelVersion: `shapes:${answer.modelVersion}`,
                deployment: "shapes",
                label: { class: p.labels[0].label },
              },
            },
          ],
        });
        expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
        labeled++;
      },
    );
    expect(final).toMatchObject({ state: "rolled_back", primaryVersion: 1, canaryVersion: null });
    expect(labeled).toBeGreaterThanOrEqual(5);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const rollback = (await history()).at(-1) as HistoryEntry;
    expect(rollback.action).toBe("rollback");
    expect(rollback.reason).toMatch(/accepted/);
    expect(rollback.details.analysis?.errorRate).toBe(0);
    expect(rollback.details.analysis?.agreement).toBeLessThan(0.8);
  });

  it("lets people roll back and promote by hand (dev deployment: no registry change)", async () => {
    const v = await addVersion(server, "shapes", fixtureBytes("tiny-classifier"));
    expect(
      (
        await server.call("POST", "/api/v1/deployments", {
          name: "shapes-dev",
          model: "shapes",
          version: v,
          environment: "dev",
        })
      ).status,
    ).toBe(201);
    const candidate = await addVersion(server, "shapes", fixtureBytes("tiny-classifier"));
    expect(
      (
        await server.call("POST", "/api/v1/deployments/shapes-dev/canary", {
          version: candidate,
          percent: 10,
        })
      ).status,
    ).toBe(200);
    const rolled = await server.call("POST", "/api/v1/deployments/shapes-dev/rollback", {
      reason: "not today",
    });
    expect(rolled.body).toMatchObject({ state: "rolled_back", canaryVersion: null });
    expect(
      (
        await server.call("POST", "/api/v1/deployments/shapes-dev/canary", {
          version: candidate,
          percent: 10,
        })
      ).status,
    ).toBe(200);
    const promoted = await server.call("POST", "/api/v1/deployments/shapes-dev/promote", {});
    expect(promoted.body).toMatchObject({ state: "stable", primaryVersion: candidate, canaryVersion: null });
    expect(await stageOf(server, "shapes", candidate)).toBe("experiment");
    expect((await history("shapes-dev")).map((h) => h.action)).toEqual([
      "create",
      "start_canary",
      "rollback",
      "start_canary",
      "begin_promotion",
      "complete_promotion",
    ]);
    expect((await server.call("DELETE", "/api/v1/deployments/shapes-dev")).status).toBe(204);
  });

  it("promotes a good canary to production and archives the old version", async () => {
    const good = await addVersion(server, "shapes", fixtureBytes("tiny-classifier"));
    await stage(server, "shapes", good, 0.95);
    const started = await server.call("POST", "/api/v1/deployments/shapes/canary", {
      version: good,
      percent: 25,
      plan: { ...FAST_PLAN, maxWeight: 50 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const final = await trafficUntil(
      (d) => d.state === "stable" || d.state === "rolled_back",
      undefined,
      true,
    );
    expect(final).toMatchObject({
      state: "stable",
      primaryVersion: good,
      canaryVersion: null,
      canaryWeight: 0,
    });
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await stageOf(server, "shapes", good)).toBe("production");
    expect(await stageOf(server, "shapes", 1)).toBe("archived");

    const actions = (await history()).map((h) => h.action);
    expect(actions.slice(actions.lastIndexOf("start_canary"))).toEqual([
      "start_canary",
      "set_weight",
      "begin_promotion",
      "complete_promotion",
    ]);
    const step = (await history()).find((h) => h.action === "set_weight" && h.canaryVersion === good);
    expect(step?.canaryWeight).toBe(50);
    expect(step?.details.analysis?.verdict).toBe("pass");
    const audit = await server.call(
      "GET",
      "/api/v1/audit?subjectType=deployment&action=deployment.complete_promotion",
    );
    const events = (
      audit.body as {
        events: Array<{ actor: string; details: { deployment: string; promotedVersion: number } }>;
      }
    ).events;
    expect(events.find((e) => e.details.deployment === "shapes")).toMatchObject({
      actor: "system/canary-analysis",
      details: { promotedVersion: good },
    });

    // The new primary answers; the status shows both versions' figures from the canary's life.
    const r = await postJson(server, "/api/v1/deployments/shapes/predict", { image: images[0] });
    expect((r.body as PredictAnswer).modelVersion).toBe(good);
  });
});
