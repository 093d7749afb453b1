import { afterAll, beforeAll, expect, it } from "vitest";
import { datasetOf, fixtureVersion, syntheticPngs } from "../batch-helpers.js";
import { fixtureFiles } from "../registry-helpers.js";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

const API = "/api/2.0/mlflow";
const PROXY = "/api/2.0/mlflow-artifacts/artifacts";

interface RunJson {
  info: { run_id: string; experiment_id: string };
}

/**
 * Attacks with a workload (job) token: it may write only its own run, read its project, register a
 * version from its own run; everything else is 403 (docs/security.md, workload tokens). The token is an
 * admin's job's, so nothing here is refused for lack of role: only the token's scope refuses it.
 */
describeEachDatabase("security: workload token scope", (kind) => {
  let server: TestServer;
  let job: string;
  let ownRun: RunJson;
  let otherRun: RunJson;
  let experimentId: string;
  let adminTokenId: string;

  const as = (method: string, url: string, body?: unknown) => server.call(method, url, body, job);
  const put = (url: string, bytes: Buffer, token: string) =>
    fetch(`${server.url}${url}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: bytes,
    });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const admin = await server.platform.identity.getUser("admin");
    const project = (await server.call("GET", "/api/v1/projects/default")).body as { id: string };
    experimentId = (
      (await server.call("POST", `${API}/experiments/create`, { name: "scope" })).body as {
        experiment_id: string;
      }
    ).experiment_id;
    const newRun = async () =>
      (
        (await server.call("POST", `${API}/runs/create`, { experiment_id: experimentId })).body as {
          run: RunJson;
        }
      ).run;
    ownRun = await newRun();
    otherRun = await newRun();
    job = (
      await server.platform.identity.issueWorkloadToken(
        admin.id,
        { projectId: project.id, jobId: "job-attacker", runId: ownRun.info.run_id },
        600,
      )
    ).token;
    adminTokenId = ((await server.call("GET", "/api/v1/tokens")).body as { tokens: Array<{ id: string }> })
      .tokens[0].id;
    // A model with a staging version, and a dev deployment serving it (created by the admin).
    const { onnx, json } = fixtureFiles();
    for (const [name, bytes] of [
      ["model.onnx", onnx],
      ["model.json", json],
    ] as const) {
      expect(
        (
          await put(
            `${PROXY}/${experimentId}/${otherRun.info.run_id}/artifacts/model/${name}`,
            bytes,
            server.adminToken,
          )
        ).status,
      ).toBe(200);
      expect(
        (
          await put(
            `${PROXY}/${experimentId}/${ownRun.info.run_id}/artifacts/model/${name}`,
            bytes,
            server.adminToken,
          )
        ).status,
      ).toBe(200);
    }
    expect((await server.call("POST", "/api/v1/models", { name: "m" })).status).toBe(201);
    const v1 = await server.call("POST", "/api/v1/models/m/versions", { runId: otherRun.info.run_id });
    expect(v1.status, JSON.stringify(v1.body)).toBe(201);
    const staged = await server.call("POST", "/api/v1/models/m/versions/1/transition", {
      stage: "staging",
      reason: "test",
    });
    expect(staged.status, JSON.stringify(staged.body)).toBe(200);
    const deployed = await server.call("POST", "/api/v1/deployments", {
      name: "d",
      model: "m",
      version: 1,
      environment: "dev",
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    await server.call("POST", "/api/v1/users", { name: "eve", role: "engineer" });
  });
  afterAll(async () => server?.stop());

  it("writes its own run: metrics, params, tags, artifacts (MLflow and native routes)", async () => {
    const logged = await as("POST", `${API}/runs/log-batch`, {
      run_id: ownRun.info.run_id,
      metrics: [{ key: "loss", value: 0.5, timestamp: 1, step: 0 }],
      params: [{ key: "lr", value: "0.1" }],
      tags: [{ key: "t", value: "v" }],
    });
    expect(logged.status, JSON.stringify(logged.body)).toBe(200);
    expect(
      (await as("POST", `/api/v1/runs/${ownRun.info.run_id}/log`, { metrics: [{ key: "acc", value: 1 }] }))
        .status,
    ).toBe(204);
    expect(
      (await put(`${PROXY}/${experimentId}/${ownRun.info.run_id}/artifacts/out.txt`, Buffer.from("x"), job))
        .status,
    ).toBe(200);
    const run = (await server.call("GET", `${API}/runs/get?run_id=${ownRun.info.run_id}`)).body as {
      run: { data: { params: Array<{ key: string }> } };
    };
    expect(run.run.data.params.map((p) => p.key)).toContain("lr");
  });

  it("reads its project's models and model files", async () => {
    expect((await as("GET", "/api/v1/models/m")).status).toBe(200);
    expect((await as("GET", "/api/v1/models/m/versions/1")).status).toBe(200);
    expect((await as("GET", `${API}/registered-models/get?name=m`)).status).toBe(200);
  });

  it("registers a version from its own run, into a model it may create (no gate)", async () => {
    const created = await as("POST", `${API}/registered-models/create`, { name: "from-job" });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const version = await as("POST", `${API}/model-versions/create`, {
      name: "from-job",
      source: `runs:/${ownRun.info.run_id}/model`,
      run_id: ownRun.info.run_id,
    });
    expect(version.status, JSON.stringify(version.body)).toBe(200);
    expect((await as("POST", "/api/v1/models/m/versions", { runId: ownRun.info.run_id })).status).toBe(201);
  });

  it("refuses writing another run, by every route, and changes nothing", async () => {
    const other = otherRun.info.run_id;
    const attempts = [
      await as("POST", `${API}/runs/log-batch`, { run_id: other, params: [{ key: "evil", value: "1" }] }),
      await as("POST", `${API}/runs/log-parameter`, { run_id: other, key: "evil", value: "1" }),
      await as("POST", `${API}/runs/set-tag`, { run_id: other, key: "evil", value: "1" }),
      await as("POST", `${API}/runs/update`, { run_id: other, status: "FAILED" }),
      await as("POST", `${API}/runs/delete`, { run_id: other }),
      await as("POST", `/api/v1/runs/${other}/log`, { params: [{ key: "evil", value: "1" }] }),
      await as("POST", `${API}/runs/create`, { experiment_id: experimentId }),
    ];
    for (const reply of attempts) expect(reply.status, JSON.stringify(reply.body)).toBe(403);
    expect(
      (await put(`${PROXY}/${experimentId}/${other}/artifacts/evil.txt`, Buffer.from("x"), job)).status,
    ).toBe(403);
    const run = (await server.call("GET", `${API}/runs/get?run_id=${other}`)).body as {
      run: {
        info: { status: string; lifecycle_stage: string };
        data: { params?: unknown[]; tags: Array<{ key: string }> };
      };
    };
    expect(run.run.info).toMatchObject({ status: "RUNNING", lifecycle_stage: "active" });
    expect(run.run.data.params ?? []).toEqual([]);
    expect(run.run.data.tags.map((t) => t.key)).not.toContain("evil");
  });

  it("refuses promotion, stage transitions, aliases and a gate of its choosing", async () => {
    const attempts = [
      await as("POST", "/api/v1/models/m/versions/1/promote", { reason: "job" }),
      await as("POST", "/api/v1/models/m/versions/1/transition", { stage: "production", reason: "job" }),
      await as("POST", `${API}/model-versions/transition-stage`, {
        name: "m",
        version: "1",
        stage: "Production",
      }),
      await as("POST", `${API}/registered-models/alias`, { name: "m", alias: "champion", version: "1" }),
      await as("POST", "/api/v1/models", {
        name: "gated",
        gate: { metric: "accuracy", direction: "higher", min: 0 },
      }),
    ];
    for (const reply of attempts) expect(reply.status, JSON.stringify(reply.body)).toBe(403);
    const v1 = (await server.call("GET", "/api/v1/models/m/versions/1")).body as { stage: string };
    expect(v1.stage).toBe("staging");
  });

  it("refuses registering another run's files or uploaded files as a version", async () => {
    const fromOther = await as("POST", `${API}/model-versions/create`, {
      name: "m",
      source: `runs:/${otherRun.info.run_id}/model`,
    });
    expect(fromOther.status, JSON.stringify(fromOther.body)).toBe(403);
    expect((await as("POST", "/api/v1/models/m/versions", { runId: otherRun.info.run_id })).status).toBe(403);
    expect(
      (
        await as("POST", "/api/v1/models/m/versions", {
          files: [{ path: "model.onnx", sha256: "a".repeat(64) }],
        })
      ).status,
    ).toBe(403);
  });

  it("refuses deleting models, versions and deployments", async () => {
    const attempts = [
      await as("DELETE", "/api/v1/models/m"),
      await as("DELETE", `${API}/registered-models/delete`, { name: "m" }),
      await as("DELETE", `${API}/model-versions/delete`, { name: "m", version: "1" }),
      await as("DELETE", "/api/v1/deployments/d"),
    ];
    for (const reply of attempts) expect(reply.status, JSON.stringify(reply.body)).toBe(403);
    expect((await server.call("GET", "/api/v1/models/m")).status).toBe(200);
    expect((await server.call("GET", "/api/v1/deployments/d")).status).toBe(200);
  });

  it("refuses creating, listing and revoking tokens (its owner's included)", async () => {
    expect((await as("POST", "/api/v1/tokens", { name: "escape" })).status).toBe(403);
    expect((await as("GET", "/api/v1/tokens")).status).toBe(403);
    expect((await as("DELETE", `/api/v1/tokens/${adminTokenId}`)).status).toBe(403);
    expect((await server.call("GET", "/api/v1/whoami")).status).toBe(200);
  });

  it("refuses project membership, quota, user and project changes", async () => {
    const attempts = [
      await as("PUT", "/api/v1/projects/default/members/eve", { role: "admin" }),
      await as("DELETE", "/api/v1/projects/default/members/admin"),
      await as("PUT", "/api/v1/projects/default/quotas", { gpus: 0 }),
      await as("POST", "/api/v1/users", { name: "mallory", role: "admin" }),
      await as("POST", "/api/v1/projects", { name: "elsewhere" }),
    ];
    for (const reply of attempts) expect(reply.status, JSON.stringify(reply.body)).toBe(403);
    const members = (await server.call("GET", "/api/v1/projects/default/members")).body as {
      members: Array<{ userName: string; role: string }>;
    };
    expect(members.members.find((m) => m.userName === "eve")).toBeUndefined();
    expect(members.members.find((m) => m.userName === "admin")?.role).toBe("admin");
  });

  it("refuses predicting, deploying and metrics scraping in token mode", async () => {
    expect((await as("GET", "/integrations/label-studio/d/health")).status).toBe(403);
    expect(
      (await as("POST", "/api/v1/deployments", { name: "d2", model: "m", version: 1, environment: "dev" }))
        .status,
    ).toBe(403);
  });

  it("reports progress only for its own job's batch prediction, and cannot cancel it", async () => {
    await datasetOf(server, "imgs", await syntheticPngs(4));
    const version = await fixtureVersion(server, "batch-clf", "tiny-classifier");
    const created = await server.call("POST", "/api/v1/batch-predictions", {
      model: "batch-clf",
      version,
      dataset: "imgs",
      chunkSize: 2,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const batch = created.body as { id: string; jobId: string; projectId: string };
    const tokenOf = async (jobId: string) => {
      const admin = await server.platform.identity.getUser("admin");
      return (
        await server.platform.identity.issueWorkloadToken(
          admin.id,
          { projectId: batch.projectId, jobId },
          600,
        )
      ).token;
    };
    const worker = await tokenOf(batch.jobId);
    const stranger = await tokenOf("some-other-job");
    const url = `/api/v1/batch-predictions/${batch.id}`;
    expect((await server.call("POST", `${url}/worker`, { attempt: 0 }, stranger)).status).toBe(403);
    expect((await server.call("GET", `${url}/chunks/0`, undefined, stranger)).status).toBe(403);
    expect((await server.call("POST", `${url}/cancel`, {}, worker)).status).toBe(403);
    const started = await server.call("POST", `${url}/worker`, { attempt: 0 }, worker);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect((await server.call("GET", `${url}/chunks/0`, undefined, worker)).status).toBe(200);
    expect(((await server.call("GET", url)).body as { state: string }).state).toBe("running");
  });
});
