import { afterAll, beforeAll, expect, it } from "vitest";
import { fixtureBytes, noisePng, postJson } from "../serving-fixtures.js";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { createDeployment, registerShapesModel, type Tenant, twoTenants } from "./tenancy-support.js";

/**
 * Canary sabotage across projects (docs/security.md, tenancy). Beta canaries `shapes-model:2` on its
 * deployment `shapes`; alpha, an engineer elsewhere, has a deployment and a model with the very same
 * names. Alpha posts "corrected" labels in its own dataset for `shapes-model:2` on `shapes`: with made-up
 * prediction ids, with ids its own deployment issued, and even with ids beta's deployment issued (as if
 * leaked). None of them may count for beta's canary; beta's own labels on the same predictions do.
 */
interface Answer {
  predictions: Array<{ predictionId: string; labels: Array<{ label: string }> }>;
}
interface Status {
  versions: Array<{ role: string; agreement: { accepted: number; corrected: number; total: number } | null }>;
}

const PLAN = {
  intervalSeconds: 0.2,
  stepWeight: 25,
  maxWeight: 75,
  minRequests: 4,
  maxErrorRate: 0.5,
  maxP95LatencyRatio: 1000,
  failureLimit: 1,
  auto: true,
  minAgreement: 0.8,
  minLabels: 3,
};
const CLASSES = ["circle", "square", "triangle"];

describeEachDatabase("tenancy: canary sabotage", (kind) => {
  let server: TestServer;
  let a: Tenant;
  let b: Tenant;
  let images: string[];

  const call = (t: Tenant, method: string, path: string, body?: unknown) =>
    server.call(method, path, body, t.token);
  const ref = (t: Tenant) => `${t.project}%2Fshapes`;

  async function deployWithCanary(t: Tenant): Promise<void> {
    await registerShapesModel(server, t, fixtureBytes("tiny-classifier"));
    const d = await createDeployment(server, t, "shapes");
    expect(d.status, JSON.stringify(d.body)).toBe(201);
    const canary = await call(t, "POST", `/api/v1/deployments/${ref(t)}/canary`, {
      version: 2,
      percent: 50,
      plan: PLAN,
    });
    expect(canary.status, JSON.stringify(canary.body)).toBe(200);
  }

  /** Canary predictions (version 2 asked for explicitly); their ids and answered classes. */
  async function canaryPredictions(t: Tenant, n: number): Promise<Array<{ id: string; label: string }>> {
    const out: Array<{ id: string; label: string }> = [];
    for (let i = 0; i < n; i++) {
      const r = await postJson(
        server,
        `/api/v1/deployments/${ref(t)}/predict?version=2`,
        { image: images[i % images.length] },
        {},
        t.token,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const [p] = (r.body as Answer).predictions;
      out.push({ id: p.predictionId, label: p.labels[0].label });
    }
    return out;
  }

  /** Labels that contradict (or, with `agree`, accept) each prediction, claiming beta's canary `shapes-model:2` on `shapes`. */
  async function contradict(
    t: Tenant,
    dataset: string,
    predictions: Array<{ id: string; label: string }>,
    agree = false,
  ) {
    const created = await call(t, "POST", "/api/v1/datasets", {
      name: dataset,
      project: t.project,
      task: "classification",
      classes: CLASSES,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const q = `?project=${t.project}`;
    const items = predictions.map((_, i) => ({ key: `img-${i}`, url: `https://images.example/${i}.png` }));
    expect((await call(t, "POST", `/api/v1/datasets/${dataset}/items${q}`, { items })).status).toBe(200);
    const labels = predictions.map((p, i) => ({
      item: `img-${i}`,
      idempotencyKey: `${dataset}-${i}`,
      label: { class: agree ? p.label : CLASSES.find((c) => c !== p.label) },
      prediction: {
        id: p.id,
        modelVersion: "shapes-model:2",
        deployment: "shapes",
        label: { class: p.label },
      },
    }));
    const pushed = await call(t, "POST", `/api/v1/datasets/${dataset}/labels${q}`, { labels });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
  }

  const canaryVotes = async (t: Tenant) => {
    const status = (await call(t, "GET", `/api/v1/deployments/${ref(t)}/status`)).body as Status;
    return status.versions.find((v) => v.role === "canary")?.agreement;
  };
  const state = async (t: Tenant) =>
    ((await call(t, "GET", `/api/v1/deployments/${ref(t)}`)).body as { state: string }).state;
  const analyzeAfterInterval = async () => {
    await new Promise((resolve) => setTimeout(resolve, PLAN.intervalSeconds * 1000 + 50));
    return server.platform.serving.canary.runOnce();
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    ({ a, b } = await twoTenants(server));
    images = (await Promise.all(Array.from({ length: 6 }, (_, i) => noisePng(24 + i, 20 + i, i + 1)))).map(
      (x) => x.toString("base64"),
    );
    await deployWithCanary(b);
    await deployWithCanary(a);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("does not count another project's labels, whatever prediction ids they claim", async () => {
    const betaIssued = await canaryPredictions(b, 6);
    const alphaIssued = await canaryPredictions(a, 6);
    const madeUp = alphaIssued.map((p, i) => ({ id: `pred-${i}`, label: p.label }));
    // Alpha cannot reach beta's deployment at all (and is not told it exists).
    const probe = await postJson(
      server,
      `/api/v1/deployments/${ref(b)}/predict`,
      { image: images[0] },
      {},
      a.token,
    );
    expect(probe.status).toBe(404);

    await contradict(a, "sabotage", [...madeUp, ...alphaIssued, ...betaIssued]);

    expect(await canaryVotes(b)).toEqual({ accepted: 0, corrected: 0, total: 0, rate: null });
    // The labels are not ignored as such: on the predictions alpha's own deployment issued they count
    // for alpha's canary, which its own labels roll back. Beta's canary goes on.
    expect(await canaryVotes(a)).toMatchObject({ corrected: alphaIssued.length });
    await analyzeAfterInterval();
    expect(await state(b)).toBe("canarying");
    expect(await state(a)).toBe("rolled_back");
  });

  it("counts the project's own labels on predictions its deployment issued, and rolls back on them", async () => {
    const issued = await canaryPredictions(b, 4);
    await contradict(b, "reviews", issued);
    expect(await canaryVotes(b)).toMatchObject({ accepted: 0, corrected: 4, total: 4 });
    // A later "accepted" vote from another project on the same predictions must not replace beta's votes.
    await contradict(a, "masking", issued, true);
    expect(await canaryVotes(b)).toMatchObject({ accepted: 0, corrected: 4, total: 4 });
    await analyzeAfterInterval();
    expect(await state(b)).toBe("rolled_back");
  });
});
